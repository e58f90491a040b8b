package secagree

import "github.com/imscore/imscore/sip/header"

// Of is FromMessage for an indexed message, parsed once per index and header (Security-Client, Security-Server,
// Security-Verify) however many callers ask. The result is shared: do not modify it.
func Of(ix *header.Index, name string) ([]Mechanism, error) {
	var key string
	switch header.Key(name) {
	case "security-client":
		key = "secagree:security-client"
	case "security-server":
		key = "secagree:security-server"
	case "security-verify":
		key = "secagree:security-verify"
	default:
		key = "secagree:" + header.Key(name)
	}
	return header.Parsed(ix, key, func(ix *header.Index) ([]Mechanism, error) {
		return FromMessage(ix.Message(), name)
	})
}
