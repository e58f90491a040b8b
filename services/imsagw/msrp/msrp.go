// Package msrp reads and writes MSRP messages (RFC 4975 §7.1): the framing of requests (SEND, REPORT) and
// responses on a TCP or TLS connection. It is what the AGW's tests speak end to end through the relay, and the
// reader an application-aware relay would use; every byte comes from the network, so the reader is bounded
// and never panics.
package msrp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits of the reader.
const (
	// MaxLineLength bounds the start line and each header line.
	MaxLineLength = 4096
	// MaxHeaders bounds the header fields of one message.
	MaxHeaders = 64
	// MaxBody bounds one chunk's content (RFC 4975 §7.1.1 lets a receiver bound chunks; 2048 octets or more
	// is what senders are told to expect).
	MaxBody = 64 << 10
)

// ErrSyntax means the bytes are not an MSRP message.
var ErrSyntax = errors.New("msrp: syntax error")

// Continuation flags of the end-line (RFC 4975 §7.1).
const (
	FlagEnd   = '$'
	FlagMore  = '+'
	FlagAbort = '#'
)

// Header is one header field, as written.
type Header struct{ Name, Value string }

// Message is a request (Method set) or a response (Status set).
type Message struct {
	TransactionID string
	Method        string
	Status        int
	Comment       string
	Headers       []Header
	Body          []byte
	Flag          byte
}

// Get returns the first header named name (case-insensitive, RFC 4975 §9).
func (m *Message) Get(name string) string {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// Encode writes m (RFC 4975 §7.1): start line, headers, the body after an empty line when there is one, and the
// end-line.
func Encode(m *Message) []byte {
	var b bytes.Buffer
	b.WriteString("MSRP " + m.TransactionID + " ")
	if m.Method != "" {
		b.WriteString(m.Method)
	} else {
		b.WriteString(strconv.Itoa(m.Status))
		if m.Comment != "" {
			b.WriteString(" " + m.Comment)
		}
	}
	b.WriteString("\r\n")
	for _, h := range m.Headers {
		b.WriteString(h.Name + ": " + h.Value + "\r\n")
	}
	if len(m.Body) > 0 {
		b.WriteString("\r\n")
		b.Write(m.Body)
		b.WriteString("\r\n")
	}
	flag := m.Flag
	if flag == 0 {
		flag = FlagEnd
	}
	b.WriteString("-------" + m.TransactionID + string(flag) + "\r\n")
	return b.Bytes()
}

// Reader reads messages from a stream.
type Reader struct{ r *bufio.Reader }

// NewReader reads from r.
func NewReader(r io.Reader) *Reader { return &Reader{r: bufio.NewReaderSize(r, MaxLineLength)} }

func (rd *Reader) line() (string, error) {
	l, err := rd.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("%w: line longer than %d bytes", ErrSyntax, MaxLineLength)
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(l) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	if len(l) < 2 || l[len(l)-2] != '\r' {
		return "", fmt.Errorf("%w: line not ended by CRLF", ErrSyntax)
	}
	return string(l[:len(l)-2]), nil
}

// validTID is RFC 4975 §9 "transact-id = ident", ident = ALPHANUM 3*31ident-char.
func validTID(s string) bool {
	if len(s) < 4 || len(s) > 32 {
		return false
	}
	for i, c := range []byte(s) {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune(".-+%=", rune(c))) {
			return false
		}
	}
	return true
}

// Read returns the next message. io.EOF means the stream ended between messages.
func (rd *Reader) Read() (*Message, error) {
	start, err := rd.line()
	if err != nil {
		return nil, err
	}
	f := strings.SplitN(start, " ", 4)
	if len(f) < 3 || f[0] != "MSRP" || !validTID(f[1]) {
		return nil, fmt.Errorf("%w: start line %q", ErrSyntax, start)
	}
	m := &Message{TransactionID: f[1]}
	if code, err := strconv.Atoi(f[2]); err == nil && len(f[2]) == 3 && code >= 100 {
		m.Status = code
		if len(f) == 4 {
			m.Comment = f[3]
		}
	} else {
		if len(f) != 3 || f[2] == "" || strings.ToUpper(f[2]) != f[2] {
			return nil, fmt.Errorf("%w: start line %q", ErrSyntax, start)
		}
		m.Method = f[2]
	}
	endLine := "-------" + m.TransactionID
	for {
		l, err := rd.line()
		if err != nil {
			return nil, unexpected(err)
		}
		if strings.HasPrefix(l, endLine) && len(l) == len(endLine)+1 {
			return m, m.setFlag(l[len(l)-1])
		}
		if l == "" {
			break
		}
		if len(m.Headers) == MaxHeaders {
			return nil, fmt.Errorf("%w: more than %d header fields", ErrSyntax, MaxHeaders)
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("%w: header line %q", ErrSyntax, l)
		}
		m.Headers = append(m.Headers, Header{Name: name, Value: strings.TrimSpace(value)})
	}
	// The body runs until CRLF end-line (RFC 4975 §7.1: the end-line cannot occur in the content).
	marker := []byte("\r\n" + endLine)
	var body []byte
	for {
		b, err := rd.r.ReadByte()
		if err != nil {
			return nil, unexpected(err)
		}
		body = append(body, b)
		if len(body) > MaxBody+len(marker)+1 {
			return nil, fmt.Errorf("%w: body larger than %d bytes", ErrSyntax, MaxBody)
		}
		if bytes.HasSuffix(body, marker) {
			break
		}
	}
	m.Body = body[:len(body)-len(marker)]
	flag, err := rd.r.ReadByte()
	if err != nil {
		return nil, unexpected(err)
	}
	rest, err := rd.line()
	if err != nil {
		return nil, unexpected(err)
	}
	if rest != "" {
		return nil, fmt.Errorf("%w: end-line continues with %q", ErrSyntax, rest)
	}
	return m, m.setFlag(flag)
}

func (m *Message) setFlag(f byte) error {
	switch f {
	case FlagEnd, FlagMore, FlagAbort:
		m.Flag = f
		return nil
	}
	return fmt.Errorf("%w: continuation flag %q", ErrSyntax, f)
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
