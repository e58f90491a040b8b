package ue

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// streamOf feeds data through a pipe into readStream and returns what it framed.
func streamOf(t testing.TB, data []byte) ([]sip.Message, error) {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		_, _ = a.Write(data)
		_ = a.Close()
	}()
	var got []sip.Message
	err := readStream(b, sip.NewParser(), func(m sip.Message) { got = append(got, m) })
	_ = b.Close()
	return got, err
}

// TestReadStream: RFC 3261 §18.3 framing by Content-Length, compact "l", CRLF keep-alives
// (RFC 5626 §4.4.1) between messages.
func TestReadStream(t *testing.T) {
	seed, err := os.ReadFile("testdata/stream.sip")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		data    string
		want    int
		wantErr bool
	}{
		{"request with body, keep-alive, response with compact l", string(seed), 2, false},
		{"empty stream", "", 0, false},
		{"negative Content-Length", "OPTIONS sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\n", 0, true},
		{"body cut short", "OPTIONS sip:a SIP/2.0\r\nContent-Length: 10\r\n\r\nabc", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := streamOf(t, []byte(tc.data))
			if (err != nil && !errors.Is(err, io.EOF)) != tc.wantErr && !(tc.wantErr && err != nil) {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if len(got) != tc.want {
				t.Fatalf("framed %d messages, want %d", len(got), tc.want)
			}
			if tc.want == 2 {
				req, ok := got[0].(*sip.Request)
				if !ok || string(req.Body()) != "hello" {
					t.Errorf("first message %v body %q", got[0], got[0].Body())
				}
				if res, ok := got[1].(*sip.Response); !ok || res.StatusCode != 200 {
					t.Errorf("second message %v", got[1])
				}
			}
		})
	}
}

// FuzzReadStream: framing never panics, and every message framed ends its header section with
// an empty line, so there are never more messages than CRLFCRLF sequences.
func FuzzReadStream(f *testing.F) {
	seed, err := os.ReadFile("testdata/stream.sip")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, _ := streamOf(t, data)
		if len(got) > strings.Count(string(data), "\r\n\r\n")+strings.Count(string(data), "\n\n") {
			t.Fatalf("%d messages from %d bytes", len(got), len(data))
		}
	})
}

// TestConfigDefaults: the checks New makes before touching the network.
func TestConfigDefaults(t *testing.T) {
	good := Config{IMPI: "1@d", IMPU: "sip:1@d"}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"no IMPI", func(c *Config) { c.IMPI = "" }, false},
		{"bad transport", func(c *Config) { c.Transport = "sctp" }, false},
		{"no P-CSCF", func(c *Config) {}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mutate(&c)
			if err := c.defaults(); (err == nil) != tc.ok {
				t.Fatalf("defaults() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
