package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/hss"
)

func TestFastRegCommands(t *testing.T) {
	a := newAPI(t)
	a.ok(addArgs("001010000000140", "15550000140")...)
	impi := "001010000000140@" + domain
	if got := a.ok("fastreg", "show", "--imsi", "001010000000140"); got != "IMPI "+impi+": fast registration off, token none\n" {
		t.Errorf("show: %q", got)
	}
	if got := a.ok("fastreg", "on", "--impi", impi); got != "IMPI "+impi+": fast registration on, token none\n" {
		t.Errorf("on: %q", got)
	}
	if err := a.store.(hss.TokenStore).PutToken(context.Background(), impi, bytes.Repeat([]byte{9}, 32), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := a.ok("fastreg", "show", "--imsi", "001010000000140"); !strings.Contains(got, "on, token stored, expires ") {
		t.Errorf("show with a token: %q", got)
	}
	if got := a.ok("fastreg", "off", "--imsi", "001010000000140"); got != "IMPI "+impi+": fast registration off, token none\n" {
		t.Errorf("off: %q", got)
	}
}
