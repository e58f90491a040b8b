package proxy

import (
	"errors"
	"strings"
	"testing"
)

// TestFramer follows RFC 3261 §18.3 framing over a stream: keep-alives between messages, bodies by Content-Length
// (long, compact, folded, last one wins), the limit on the header section and on the whole message.
func TestFramer(t *testing.T) {
	msg := func(headers, body string) string {
		return "MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n" + headers + "\r\n" + body
	}
	tests := []struct {
		name      string
		stream    string
		completed int
		inMessage bool
		tooLarge  bool
	}{
		{"keep-alives only", "\r\n\r\n\r\n", 0, false, false},
		{"one message without body", msg("Content-Length: 0\r\n", ""), 1, false, false},
		{"keep-alive then two pipelined", "\r\n\r\n" + msg("Content-Length: 2\r\n", "hi") + msg("l: 3\r\n", "abc"), 2, false, false},
		{"folded Content-Length", msg("Content-Length:\r\n  5\r\n", "hello"), 1, false, false},
		{"white space around the colon", msg("content-LENGTH   :   4\r\n", "body"), 1, false, false},
		{"last Content-Length wins", msg("Content-Length: 100\r\nl: 1\r\n", "x"), 1, false, false},
		{"body under way", msg("Content-Length: 10\r\n", "12345"), 0, true, false},
		{"header under way", "MESSAGE sip:b@x SIP/2.0\r\nVia: x", 0, true, false},
		{"bare LF does not end a line", "MESSAGE sip:b@x SIP/2.0\n\n", 0, true, false},
		{"header section too long", "MESSAGE sip:b@x SIP/2.0\r\nX: " + strings.Repeat("a", 2000), 0, true, true},
		{"Content-Length too large", msg("Content-Length: 2000\r\n", ""), 0, true, true},
		{"Content-Length of many digits", msg("Content-Length: 99999999999999999999999999\r\n", ""), 0, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for cut := 0; cut <= len(tc.stream); cut++ { // wherever TCP cuts it
				f := newFramer(1024)
				err := f.feed([]byte(tc.stream[:cut]))
				if err == nil {
					err = f.feed([]byte(tc.stream[cut:]))
				}
				if got := errors.Is(err, errMessageTooLarge); got != tc.tooLarge {
					t.Fatalf("cut %d: too large %v, want %v", cut, got, tc.tooLarge)
				}
				if tc.tooLarge {
					continue
				}
				if f.completed != tc.completed || f.inMessage() != tc.inMessage {
					t.Fatalf("cut %d: %d complete, in message %v; want %d, %v", cut, f.completed, f.inMessage(), tc.completed, tc.inMessage)
				}
			}
		})
	}
}
