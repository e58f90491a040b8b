package gaa

import "errors"

// Sentinel errors. Decoding problems an answer must report are *diameter.Error values instead.
var (
	// ErrUnexpectedMessage: not the command, application or direction the decoder handles.
	ErrUnexpectedMessage = errors.New("gaa: unexpected message")
	// ErrInvalidField: the struct would make an invalid message (a required field empty, bad UTF-8).
	ErrInvalidField = errors.New("gaa: invalid field")
)
