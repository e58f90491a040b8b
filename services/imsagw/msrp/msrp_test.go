package msrp

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// RFC 4975 §7.2's example SEND and its 200, as a relay sees them.
const (
	sendRFC = "MSRP a786hjs2 SEND\r\n" +
		"To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n" +
		"From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n" +
		"Message-ID: 87652491\r\n" +
		"Byte-Range: 1-25/25\r\n" +
		"Content-Type: text/plain\r\n" +
		"\r\n" +
		"Hey Bob, are you there?\r\n" +
		"-------a786hjs2$\r\n"
	okRFC = "MSRP a786hjs2 200 OK\r\n" +
		"To-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n" +
		"From-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n" +
		"-------a786hjs2$\r\n"
)

func TestReadRFCExample(t *testing.T) {
	r := NewReader(strings.NewReader(sendRFC + okRFC))
	send, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	if send.Method != "SEND" || send.TransactionID != "a786hjs2" || string(send.Body) != "Hey Bob, are you there?" ||
		send.Get("message-id") != "87652491" || send.Flag != FlagEnd {
		t.Fatalf("SEND = %+v", send)
	}
	ok, err := r.Read()
	if err != nil || ok.Status != 200 || ok.Comment != "OK" || len(ok.Body) != 0 {
		t.Fatalf("200 = %+v, %v", ok, err)
	}
	if _, err := r.Read(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last message: %v, want EOF", err)
	}
	if got := string(Encode(send)) + string(Encode(ok)); got != sendRFC+okRFC {
		t.Fatalf("Encode differs:\n%q\n%q", got, sendRFC+okRFC)
	}
}

func TestReadErrors(t *testing.T) {
	for name, text := range map[string]string{
		"not msrp":        "HTTP/1.1 200 OK\r\n\r\n",
		"short tid":       "MSRP ab SEND\r\n-------ab$\r\n",
		"lf only":         "MSRP a786hjs2 SEND\n-------a786hjs2$\n",
		"bad flag":        "MSRP a786hjs2 SEND\r\n-------a786hjs2!\r\n",
		"bad header":      "MSRP a786hjs2 SEND\r\nno colon\r\n-------a786hjs2$\r\n",
		"long line":       "MSRP a786hjs2 SEND\r\nX: " + strings.Repeat("a", MaxLineLength) + "\r\n",
		"body too big":    "MSRP a786hjs2 SEND\r\nContent-Type: text/plain\r\n\r\n" + strings.Repeat("a", MaxBody+100),
		"truncated":       "MSRP a786hjs2 SEND\r\nTo-Path: x\r\n",
		"too many header": "MSRP a786hjs2 SEND\r\n" + strings.Repeat("A: b\r\n", MaxHeaders+1),
	} {
		if m, err := NewReader(strings.NewReader(text)).Read(); err == nil {
			t.Errorf("%s: Read = %+v, want an error", name, m)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(sendRFC))
	f.Add([]byte(okRFC))
	f.Add([]byte(sendRFC + okRFC))
	f.Add([]byte("MSRP a786hjs2 SEND\r\n-------a786hjs2+\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b))
		for range 16 {
			m, err := r.Read()
			if err != nil {
				return
			}
			// What reads re-encodes to something that reads the same.
			again, err := NewReader(bytes.NewReader(Encode(m))).Read()
			if err != nil {
				t.Fatalf("re-encoded message does not read: %v\n%q", err, Encode(m))
			}
			if len(m.Body) == 0 {
				m.Body = nil
			}
			if len(again.Body) == 0 {
				again.Body = nil
			}
			if !reflect.DeepEqual(again, m) {
				t.Fatalf("re-encoding changed the message\n%+v\n%+v", m, again)
			}
		}
	})
}
