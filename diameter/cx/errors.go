package cx

import "errors"

// Sentinel errors. Decoding problems that a Diameter answer must report are *diameter.Error
// values instead (with the Result-Code and Failed-AVP); these are for misuse and for messages
// that are not the one the caller asked to parse.
var (
	// ErrUnexpectedMessage: the message is not the command, application or direction
	// (request/answer) the Unmarshal or Parse function handles.
	ErrUnexpectedMessage = errors.New("cx: unexpected message")
	// ErrInvalidField: Marshal was given a struct that would produce an invalid message
	// (a mandatory field empty, an enum value the specification does not define, bad UTF-8).
	ErrInvalidField = errors.New("cx: invalid field")
	// ErrNotInDictionary: the dictionary passed to Marshal lacks an AVP the message needs, or
	// defines it with another type. Pass the dictionary from NewDictionary.
	ErrNotInDictionary = errors.New("cx: AVP not in dictionary")
	// ErrMalformed: the bytes are not a Diameter message (DecodeMessage, ReadMessage).
	ErrMalformed = errors.New("cx: malformed diameter message")
)
