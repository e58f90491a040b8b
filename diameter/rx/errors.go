package rx

import "errors"

// Sentinel errors. Decoding problems an answer must report are *diameter.Error values instead.
var (
	// ErrUnexpectedMessage: not the command, application or direction the decoder handles.
	ErrUnexpectedMessage = errors.New("rx: unexpected message")
	// ErrInvalidField: the struct would make an invalid message (a required field empty, an
	// enumeration value TS 29.214 does not define, bad UTF-8, too many of an AVP).
	ErrInvalidField = errors.New("rx: invalid field")
	// ErrNotInDictionary: the dictionary given to Marshal lacks the Rx application.
	ErrNotInDictionary = errors.New("rx: not in dictionary")
)
