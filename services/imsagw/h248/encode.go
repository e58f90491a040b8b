package h248

import (
	"strconv"
	"strings"
)

// Encode writes m in the text encoding, one element per line and indented by tabs, as the examples of
// H.248.1 Appendix I are written (any LWSP is allowed between tokens, Annex B).
func Encode(m *Message) []byte {
	var b strings.Builder
	b.WriteString("MEGACO/")
	b.WriteString(strconv.Itoa(m.Version))
	b.WriteByte(' ')
	b.WriteString(m.MID)
	b.WriteString("\r\n")
	for _, n := range m.Body { // transactions follow each other without commas (Annex B "transactionList")
		writeNode(&b, n, 0)
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}

func writeList(b *strings.Builder, nodes []*Node, depth int) {
	for i, n := range nodes {
		if i > 0 {
			b.WriteString(",\r\n")
		}
		writeNode(b, n, depth)
	}
}

func indent(b *strings.Builder, depth int) {
	for range depth {
		b.WriteByte('\t')
	}
}

func writeNode(b *strings.Builder, n *Node, depth int) {
	indent(b, depth)
	if n.Quoted {
		b.WriteByte('"')
		b.WriteString(n.Name)
		b.WriteByte('"')
		return
	}
	b.WriteString(n.Name)
	if n.Op != 0 {
		if n.Op == '=' && !strings.Contains(n.Name, "/") {
			b.WriteString(" = ") // "Transaction = 1"; properties stay "pkg/name=value"
		} else {
			b.WriteByte(n.Op)
		}
		b.WriteString(n.Value)
	}
	switch {
	case n.IsOctets && n.Octets == "":
		b.WriteString(" { }")
	case n.IsOctets:
		b.WriteString(" {\r\n")
		b.WriteString(strings.ReplaceAll(n.Octets, "}", `\}`))
		if !strings.HasSuffix(n.Octets, "\n") {
			b.WriteString("\r\n")
		}
		b.WriteByte('}') // not indented: the SDP dissector of Wireshark takes the indentation for an SDP line
	case n.HasBody || len(n.Children) > 0:
		if len(n.Children) == 0 {
			b.WriteString(" { }")
			return
		}
		b.WriteString(" {\r\n")
		writeList(b, n.Children, depth+1)
		b.WriteString("\r\n")
		indent(b, depth)
		b.WriteByte('}')
	}
}
