package fastreg

import "errors"

var (
	// ErrMalformed: the frame is no Diameter message of this application (short, bad lengths, wrong header).
	ErrMalformed = errors.New("fastreg: malformed message")
	// ErrInvalidField: a field cannot be encoded (empty required value, token length out of bounds).
	ErrInvalidField = errors.New("fastreg: invalid field")
)
