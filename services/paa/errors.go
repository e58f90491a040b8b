package paa

import "errors"

// errProtocol is a PANA message that breaks the exchange (a missing flag, an unexpected message).
var errProtocol = errors.New("pana protocol error")
