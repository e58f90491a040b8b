package h248

import (
	"fmt"
	"strconv"
	"strings"
)

// Special identifiers of the text encoding (H.248.1 §6.1.1, Annex B): CHOOSE ($) asks the receiver to
// pick a context or termination, NULL (-) is the null context, ALL (*) every termination.
const (
	Choose      = "$"
	NullContext = "-"
	All         = "*"
)

// Stream modes (H.248.1 §7.1.7 "Mode").
const (
	ModeSendOnly    = "SendOnly"
	ModeRecvOnly    = "RecvOnly"
	ModeSendReceive = "SendReceive"
	ModeInactive    = "Inactive"
)

// Stream is one stream of a Media descriptor (H.248.1 §7.1.4): its LocalControl (mode and properties such
// as ipdc/realm, H.248.41) and its Local and Remote descriptors (SDP, RFC 4566, "$" where the AGW picks).
type Stream struct {
	ID         uint16
	Mode       string
	Properties []*Node
	Local      string
	Remote     string
}

// Prop returns the property name=value of a LocalControl, an event or a signal.
func Prop(name, value string) *Node { return &Node{Name: name, Op: '=', Value: value} }

func (s Stream) node() *Node {
	var kids []*Node
	var lc []*Node
	if s.Mode != "" {
		lc = append(lc, Assign("Mode", s.Mode))
	}
	lc = append(lc, s.Properties...)
	if len(lc) > 0 {
		kids = append(kids, Token("LocalControl", lc...))
	}
	if s.Local != "" {
		kids = append(kids, Octets("Local", s.Local))
	}
	if s.Remote != "" {
		kids = append(kids, Octets("Remote", s.Remote))
	}
	return Assign("Stream", strconv.Itoa(int(s.ID)), kids...)
}

// Command returns an Add, Modify or Move command on a termination with a Media descriptor of streams
// (H.248.1 §7.2.1–§7.2.3), and any further descriptors (Events, Signals).
func Command(verb, termination string, streams []Stream, more ...*Node) *Node {
	var kids []*Node
	if len(streams) > 0 {
		media := Token("Media")
		for _, s := range streams {
			media.Children = append(media.Children, s.node())
		}
		media.HasBody = true
		kids = append(kids, media)
	}
	kids = append(kids, more...)
	return Assign(verb, termination, kids...)
}

// Subtract returns the Subtract command (H.248.1 §7.2.4) of a termination.
func Subtract(termination string) *Node { return Assign("Subtract", termination) }

// Notify returns a Notify command (H.248.1 §7.2.7) reporting events observed for requestID.
func Notify(termination string, requestID uint32, events ...*Node) *Node {
	return Assign("Notify", termination, Assign("ObservedEvents", strconv.FormatUint(uint64(requestID), 10), events...))
}

// Request returns a transaction request (H.248.1 §8.2.1) of one action on context.
func Request(id uint32, context string, commands ...*Node) *Node {
	return Assign("Transaction", strconv.FormatUint(uint64(id), 10), Assign("Context", context, commands...))
}

// Reply returns a transaction reply (H.248.1 §8.2.2) of one action on context.
func Reply(id uint32, context string, commands ...*Node) *Node {
	return Assign("Reply", strconv.FormatUint(uint64(id), 10), Assign("Context", context, commands...))
}

// ErrorReply returns a transaction reply carrying an Error descriptor (H.248.1 §7.1.9; codes in H.248.8).
func ErrorReply(id uint32, code int, text string) *Node {
	return Assign("Reply", strconv.FormatUint(uint64(id), 10), ErrorDescriptor(code, text))
}

// ErrorDescriptor returns Error = code { "text" }.
func ErrorDescriptor(code int, text string) *Node {
	e := Assign("Error", strconv.Itoa(code))
	if text != "" {
		e.Children, e.HasBody = []*Node{Quote(strings.ReplaceAll(text, `"`, "'"))}, true
	}
	return e
}

// Pending returns a TransactionPending (H.248.1 §8.2.3): the request is being worked on.
func Pending(id uint32) *Node {
	n := Assign("Pending", strconv.FormatUint(uint64(id), 10))
	n.HasBody = true // Annex B: PendingToken EQUAL TransactionID LBRKT RBRKT
	return n
}

// Kinds of transactions (H.248.1 Annex B: transactionRequest, transactionReply, transactionPending,
// transactionResponseAck), with their long and short tokens.
const (
	KindRequest = "Transaction"
	KindReply   = "Reply"
	KindPending = "Pending"
	KindAck     = "TransactionResponseAck"
)

var kindTokens = map[string]string{
	"transaction": KindRequest, "t": KindRequest,
	"reply": KindReply, "p": KindReply,
	"pending": KindPending, "pn": KindPending,
	"transactionresponseack": KindAck, "k": KindAck,
}

// Transaction is the typed view of one transaction of a message.
type Transaction struct {
	Kind string
	ID   uint32
	// Actions are the context actions of a request or reply; Error the Error descriptor of a reply that
	// failed as a whole.
	Actions []Action
	Error   *Error
}

// Action is one context's commands.
type Action struct {
	Context  string
	Commands []*Node
}

// Error is an Error descriptor.
type Error struct {
	Code int
	Text string
}

func (e *Error) Error() string { return fmt.Sprintf("h248 error %d %s", e.Code, e.Text) }

// Transactions returns the typed view of a message's transactions.
func Transactions(m *Message) ([]Transaction, error) {
	var out []Transaction
	for _, n := range m.Body {
		kind, ok := kindTokens[strings.ToLower(n.Name)]
		if !ok {
			if e := errorOf(n); e != nil {
				return nil, fmt.Errorf("message error descriptor: %w", e)
			}
			return nil, fmt.Errorf("%w: %q is no transaction", ErrSyntax, n.Name)
		}
		t := Transaction{Kind: kind}
		if kind != KindAck {
			id, err := n.Uint()
			if err != nil {
				return nil, err
			}
			t.ID = id
		}
		for _, c := range n.Children {
			if e := errorOf(c); e != nil {
				t.Error = e
				continue
			}
			if strings.EqualFold(c.Name, "Context") || strings.EqualFold(c.Name, "C") {
				t.Actions = append(t.Actions, Action{Context: c.Value, Commands: c.Children})
			}
		}
		out = append(out, t)
	}
	return out, nil
}

func errorOf(n *Node) *Error {
	if !strings.EqualFold(n.Name, "Error") && !strings.EqualFold(n.Name, "ER") {
		return nil
	}
	code, _ := strconv.Atoi(n.Value)
	e := &Error{Code: code}
	for _, c := range n.Children {
		if c.Quoted {
			e.Text = c.Name
		}
	}
	return e
}

// Streams returns the streams of a command's Media descriptor.
func Streams(cmd *Node) []Stream {
	media := cmd.Child("Media", "M")
	if media == nil {
		return nil
	}
	var out []Stream
	add := func(id uint16, parent *Node) {
		s := Stream{ID: id}
		if lc := parent.Child("LocalControl", "O"); lc != nil {
			for _, p := range lc.Children {
				if strings.EqualFold(p.Name, "Mode") || strings.EqualFold(p.Name, "MO") {
					s.Mode = p.Value
					continue
				}
				s.Properties = append(s.Properties, p)
			}
		}
		if l := parent.Child("Local", "L"); l != nil {
			s.Local = l.Octets
		}
		if r := parent.Child("Remote", "R"); r != nil {
			s.Remote = r.Octets
		}
		out = append(out, s)
	}
	hasStream := false
	for _, c := range media.Children {
		if strings.EqualFold(c.Name, "Stream") || strings.EqualFold(c.Name, "ST") {
			hasStream = true
			id, _ := strconv.ParseUint(c.Value, 10, 16)
			add(uint16(id), c)
		}
	}
	if !hasStream {
		add(1, media) // one stream, its descriptors directly in Media (H.248.1 §7.1.4)
	}
	return out
}
