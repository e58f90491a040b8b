package diameter

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestErrorAs(t *testing.T) {
	base := Errorf(MissingAVP, "user-name: %w", io.ErrUnexpectedEOF)
	wrapped := fmt.Errorf("mar: %w", base)
	var de *Error
	if !errors.As(wrapped, &de) {
		t.Fatal("errors.As did not find *Error through wrapping")
	}
	if de.Code != MissingAVP || !errors.Is(wrapped, io.ErrUnexpectedEOF) {
		t.Fatalf("got code %d, cause lost: %v", de.Code, wrapped)
	}
}

func TestResultCodeClasses(t *testing.T) {
	tests := []struct {
		name     string
		code     ResultCode
		protocol bool
		success  bool
	}{
		{"success", Success, false, true},
		{"command unsupported", CommandUnsupported, true, false},
		{"unknown peer", UnknownPeer, true, false},
		{"missing avp", MissingAVP, false, false},
		{"busy", TooBusy, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.code.IsProtocolError(); got != tt.protocol {
				t.Errorf("IsProtocolError(%d) = %v", tt.code, got)
			}
			if got := tt.code.IsSuccess(); got != tt.success {
				t.Errorf("IsSuccess(%d) = %v", tt.code, got)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	e := &Error{Code: 5001, VendorID: 10415}
	if got := e.Error(); got != "diameter experimental-result-code (vendor 10415) 5001" {
		t.Fatalf("Error() = %q", got)
	}
}
