package provision

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzDecodeSubscriber feeds arbitrary bytes to the decoding of a subscriber (a POST body or one import
// line). It must never panic; what it accepts the store's validation accepts too, with the keys as sent;
// what it refuses is a 400-class *Error that never echoes the K, OP or OPc sent.
func FuzzDecodeSubscriber(f *testing.F) {
	data, err := os.ReadFile("testdata/subscribers.ndjson")
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f.Add(append([]byte(nil), sc.Bytes()...))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		sub, err := decodeSubscriberLine(line, domain)
		// What was sent, read leniently, to compare with.
		var sent map[string]any
		_ = json.Unmarshal(line, &sent)
		str := func(k string) string { s, _ := sent[k].(string); return s }
		exactKeys := true // encoding/json matches members case-insensitively: "K" sets k too
		for k := range sent {
			exactKeys = exactKeys && k == strings.ToLower(k)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status/100 != 4 || e.Code == "" || e.Message == "" {
				t.Fatalf("error %v (%T) is not a 4xx *Error with a code", err, err)
			}
			for _, k := range []string{"k", "op", "opc"} {
				if v := str(k); len(v) >= 8 && strings.Contains(e.Message, v) {
					t.Fatalf("error %q echoes %s", e.Message, k)
				}
			}
			return
		}
		if err := sub.Validate(); err != nil {
			t.Fatalf("accepted %q but the store refuses it: %v", line, err)
		}
		if !exactKeys {
			return
		}
		if k := str("k"); !strings.EqualFold(hex.EncodeToString(sub.Private.K), k) {
			t.Fatalf("K stored %x, sent %q", sub.Private.K, k)
		}
		if op := str("op"); sent["store_opc"] != true && !strings.EqualFold(hex.EncodeToString(sub.Private.OP), op) {
			t.Fatalf("OP stored %x, sent %q", sub.Private.OP, op)
		}
		if len(sub.Public) == 0 {
			t.Fatalf("accepted %q without public identities", line)
		}
		if sub.Private.IMPI == "" || len(sub.Private.OP) > 0 && len(sub.Private.OPc) > 0 {
			t.Fatalf("accepted %q as %v", line, sub.Private)
		}
	})
}
