package proxy

import "errors"

// errMessageTooLarge is a stream message over Limits.MaxMessageSize: its header section does not end within the
// limit, or its Content-Length takes it beyond.
var errMessageTooLarge = errors.New("sip message exceeds max_message_size")

// framer follows the message boundaries of a SIP byte stream (RFC 3261 §18.3: the header section ends with an
// empty line, the body is Content-Length bytes) without keeping the bytes: sipgo's stream parser assembles the
// messages, the framer only tells the connection wrapper whether a message is under way (for its timeouts) and
// stops a message that grows beyond the limit before sipgo buffers it. It agrees with sipgo's framing where
// sipgo frames at all (FuzzFramer checks it): lines end in CRLF, folded lines (RFC 3261 §7.3.1) continue a
// header, the last Content-Length (or compact "l") wins, none means no body (sipgo then fails the stream and
// closes the connection). CR and LF between messages are keep-alives (RFC 5626 §3.5.1, RFC 3261 §7.5).
type framer struct {
	max int // Limits.MaxMessageSize

	state     frameState
	head      int   // bytes of the current header section so far, start line included
	bodyLeft  int64 // body bytes still to come
	completed int   // messages framed in full, for the caller to see one end

	// The current logical header line.
	startLine bool   // still in the start line, which has no Content-Length
	lineStart bool   // at the first byte of a physical line
	lineCR    bool   // the physical line so far is a lone CR
	cr        bool   // the last byte was a CR within a line
	name      []byte // the header name read so far (up to nameMax bytes), until the colon
	nameLong  bool   // the name is longer than any we look for
	inValue   bool   // past the colon
	isCL      bool   // the line is Content-Length or l
	clVal     int64  // its digits so far
	clDigits  bool   // at least one digit seen
	clBad     bool   // something other than digits and LWS in its value

	contentLength int64 // last Content-Length of the header section, -1 if none (or unreadable)
}

type frameState uint8

const (
	frameIdle frameState = iota // between messages
	frameHead                   // in the start line or header section
	frameBody                   // in the body
)

const nameMax = len("content-length")

func newFramer(max int) *framer {
	return &framer{max: max, name: make([]byte, 0, nameMax)}
}

// inMessage reports whether a message has begun and not yet ended.
func (f *framer) inMessage() bool { return f.state != frameIdle }

// inHead reports whether the header section of a message is being read.
func (f *framer) inHead() bool { return f.state == frameHead }

// feed follows data through the stream. It returns errMessageTooLarge as soon as the current message is known to
// exceed the limit; the stream cannot be followed after that.
func (f *framer) feed(data []byte) error {
	for len(data) > 0 {
		n, _, err := f.step(data)
		if err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// step follows data up to the end of the first message that ends in it: n is how many bytes it took (all of data
// when no message ended), ended whether a message ended with the last of them.
func (f *framer) step(data []byte) (n int, ended bool, err error) {
	for i := 0; i < len(data); i++ {
		switch f.state {
		case frameIdle:
			c := data[i]
			if c == '\r' || c == '\n' {
				continue // RFC 5626 §3.5.1 keep-alive, or the end of the previous message's CRLF
			}
			f.begin()
			fallthrough
		case frameHead:
			f.head++
			if f.head > f.max {
				return i, false, errMessageTooLarge
			}
			if f.headByte(data[i]) {
				if err := f.endHead(); err != nil {
					return i, false, err
				}
				if f.state == frameIdle {
					return i + 1, true, nil
				}
			}
		case frameBody:
			n := int64(len(data) - i)
			if n > f.bodyLeft {
				n = f.bodyLeft
			}
			f.bodyLeft -= n
			i += int(n) - 1
			if f.bodyLeft == 0 {
				f.end()
				return i + 1, true, nil
			}
		}
	}
	return len(data), false, nil
}

func (f *framer) begin() {
	f.state = frameHead
	f.head = 0
	f.contentLength = -1
	f.startLine = true
	f.lineStart, f.lineCR, f.cr = false, false, false
	f.resetLine()
}

func (f *framer) end() {
	f.state = frameIdle
	f.completed++
}

func (f *framer) resetLine() {
	f.name = f.name[:0]
	f.nameLong, f.inValue, f.isCL, f.clVal, f.clDigits, f.clBad = false, false, false, 0, false, false
}

// headByte takes one byte of the header section; true means it ended the section (the empty line's LF). As in
// sipgo, a line ends with CRLF only (RFC 3261 §7: a bare LF is part of the line; a CR without LF fails the
// stream there, and sipgo closes the connection).
func (f *framer) headByte(c byte) bool {
	if f.lineStart {
		if f.lineCR { // the line began with CR
			f.lineCR = false
			if c == '\n' {
				f.finishLine()
				return true // the empty line: end of the header section
			}
			f.cr = true // a CR and something else: sipgo stops here; count it as part of a line
		} else {
			switch {
			case c == '\r':
				f.lineCR = true
				return false
			case (c == ' ' || c == '\t') && !f.startLine: // RFC 3261 §7.3.1: a folded line continues the header
				f.lineStart = false
				return false
			}
		}
		f.finishLine()
		f.lineStart, f.startLine = false, false
	}
	switch {
	case c == '\r':
		f.cr = true
		return false
	case c == '\n' && f.cr:
		f.cr = false
		f.lineStart = true
		return false
	}
	f.cr = false
	switch {
	case f.startLine:
	case !f.inValue:
		if c == ':' {
			f.inValue = true
			f.isCL = !f.nameLong && isContentLengthName(f.name)
			return false
		}
		if isSpace(c) {
			return false // LWS before the colon (RFC 3261 §7.3.1 HCOLON)
		}
		if len(f.name) == nameMax {
			f.nameLong = true
		} else {
			f.name = append(f.name, c)
		}
	case f.isCL:
		switch {
		case c >= '0' && c <= '9':
			if f.clVal <= int64(f.max) { // anything above max is "too large", however many digits follow
				f.clVal = f.clVal*10 + int64(c-'0')
			}
			f.clDigits = true
		case isSpace(c): // sipgo trims these around the value
		default:
			f.clBad = true
		}
	}
	return false
}

// finishLine closes the logical line that just ended (the next line is not a continuation).
func (f *framer) finishLine() {
	if f.isCL {
		if f.clDigits && !f.clBad {
			f.contentLength = f.clVal
		} else {
			f.contentLength = -1 // sipgo rejects it and closes the stream
		}
	}
	f.resetLine()
}

func (f *framer) endHead() error {
	cl := f.contentLength
	if cl < 0 {
		cl = 0
	}
	if int64(f.head)+cl > int64(f.max) {
		return errMessageTooLarge
	}
	if cl == 0 {
		f.end()
		return nil
	}
	f.state, f.bodyLeft = frameBody, cl
	return nil
}

// isContentLengthName matches the Content-Length header name, long or compact (RFC 3261 §7.3.3), any case.
func isContentLengthName(name []byte) bool {
	const long = "content-length"
	if len(name) == 1 {
		return name[0] == 'l' || name[0] == 'L'
	}
	if len(name) != len(long) {
		return false
	}
	for i := range name {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != long[i] {
			return false
		}
	}
	return true
}

// isSpace is the ASCII white space sipgo trims around header names and values (bytes.TrimSpace).
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}
