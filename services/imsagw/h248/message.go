// Package h248 is the text encoding of H.248.1 (ITU-T H.248.1 Annex B), the protocol of the Iq interface
// between the P-CSCF's IMS-ALG and the IMS-AGW (TS 29.334). The AGW serves it; the ALG is its client.
//
// The encoding is a tree: a message carries transactions, a transaction actions, an action commands, a
// command descriptors, and so on down to properties (`name=value`). This package keeps that tree generic
// (Node: a token, an optional relation and value, optional children or an octet string), which is how the
// grammar of Annex B is built, and gives the TS 29.334 procedures typed builders and accessors on top
// (procedures.go). Parsing is bounded (MaxMessageSize, MaxDepth, MaxNodes) and never panics: every
// message comes from the network.
package h248

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits on a parsed message.
const (
	// MaxMessageSize bounds a message: H.248.1 Annex D.1 messages fit a UDP datagram.
	MaxMessageSize = 65507
	// MaxDepth bounds the nesting of braces (a transaction, action, command, media, stream, local control
	// and property nest seven deep).
	MaxDepth = 24
	// MaxNodes bounds the elements of one message.
	MaxNodes = 4096
)

// ErrSyntax means a message does not follow the Annex B grammar. The receiver answers with error
// descriptor 400 "Syntax error in message" (H.248.8 §3).
var ErrSyntax = errors.New("h248: syntax error")

// Version is the protocol version this package speaks (H.248.1 v3, as TS 29.334 §5.4 requires).
const Version = 3

// Message is one H.248 message: the sender's version and mId, then the body (H.248.1 Annex B
// "megacoMessage").
type Message struct {
	Version int
	// MID is the sender's message identifier as written ("[192.0.2.1]:2944", "<agw.example.net>:2944").
	MID string
	// Body is the transactions (or one Error descriptor) of the message.
	Body []*Node
}

// Node is one element of the text encoding.
type Node struct {
	// Name is the token ("Transaction", "Context", "Add", "Media", "ipdc/realm") or a quoted string's
	// text when Quoted is set.
	Name   string
	Quoted bool
	// Op is the relation before Value: '=' for an assignment or property, '>' '<' '#' for the inequalities
	// of H.248.1 Annex B "parmValue"; 0 when there is no value.
	Op    byte
	Value string
	// Children are the comma-separated elements inside the braces that follow; HasBody tells an empty
	// "{}" from none.
	Children []*Node
	HasBody  bool
	// Octets is the octet string of a Local or Remote descriptor (the SDP), unescaped; IsOctets marks it.
	Octets   string
	IsOctets bool
}

// Child returns the first child whose Name is one of names (compared without case: tokens are
// case-insensitive, H.248.1 Annex B.2), else nil.
func (n *Node) Child(names ...string) *Node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		for _, name := range names {
			if !c.Quoted && strings.EqualFold(c.Name, name) {
				return c
			}
		}
	}
	return nil
}

// Property returns the value of the child property name, and whether it is there.
func (n *Node) Property(name string) (string, bool) {
	c := n.Child(name)
	if c == nil || c.Op == 0 {
		return "", false
	}
	return c.Value, true
}

// Uint returns the node's value as an unsigned number.
func (n *Node) Uint() (uint32, error) {
	v, err := strconv.ParseUint(n.Value, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: %s=%q is no number", ErrSyntax, n.Name, n.Value)
	}
	return uint32(v), nil
}

// octetTokens are the descriptors whose body is an octet string, in long and short form (Annex B.2).
var octetTokens = map[string]bool{"local": true, "l": true, "remote": true, "r": true}

func isOctetToken(name string) bool { return octetTokens[strings.ToLower(name)] }

// Token returns a node with a name and no value.
func Token(name string, children ...*Node) *Node {
	return &Node{Name: name, Children: children, HasBody: len(children) > 0}
}

// Assign returns name=value with optional children in braces.
func Assign(name, value string, children ...*Node) *Node {
	return &Node{Name: name, Op: '=', Value: value, Children: children, HasBody: len(children) > 0}
}

// Octets returns a Local or Remote descriptor holding sdp.
func Octets(name, sdp string) *Node {
	return &Node{Name: name, Octets: sdp, IsOctets: true, HasBody: true}
}

// Quote returns a quoted string element (an Error descriptor's text, H.248.1 Annex B "quotedString").
func Quote(s string) *Node { return &Node{Name: s, Quoted: true} }
