package hss

import (
	"errors"
	"fmt"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
)

// Sentinel errors of the Cx server (the store's are in store_errors.go). Test with errors.Is.
var (
	// ErrInvalidConfig wraps every error Config.Validate and NewServer report.
	ErrInvalidConfig = errors.New("hss: invalid config")
	// ErrServerClosed is returned by Server methods once Close has started.
	ErrServerClosed = errors.New("hss: server closed")
	// ErrSCSCFUnreachable: a network-initiated request (RTR, PPR) could not be sent because the serving
	// S-CSCF, addressed by the Origin-Host of its SAR (TS 29.228 §6.1.3, §6.2.2), has no open Diameter
	// connection with this HSS. The registration data is left as it was.
	ErrSCSCFUnreachable = errors.New("hss: serving S-CSCF not connected")
	// ErrRefused: the S-CSCF answered an RTR or PPR with an error; the AnswerError in the chain has the
	// code. The registration data is left as it was unless the answer says otherwise (TS 29.228 §6.2.2.1).
	ErrRefused = errors.New("hss: S-CSCF refused the request")
	// ErrTooManyOperations: cx.operations.max operations are kept and every one is still pending, so no
	// new network-initiated procedure is started (Operations.Start).
	ErrTooManyOperations = errors.New("hss: too many network-initiated procedures pending")
	// ErrOperationNotFound: no operation has that id, or it finished longer than cx.operations.retention
	// ago. It wraps ErrNotFound.
	ErrOperationNotFound = fmt.Errorf("hss: no such operation (unknown, or finished and forgotten): %w", ErrNotFound)
)

// AnswerError is an error answer from the S-CSCF to an RTR or PPR. It wraps ErrRefused.
type AnswerError struct {
	// Command is cx.CmdRegistrationTermination or cx.CmdPushProfile.
	Command cx.Command
	// Host is the S-CSCF's Origin-Host.
	Host string
	// Code is the Result-Code, or the Experimental-Result-Code when VendorID is not zero.
	Code     diameter.ResultCode
	VendorID uint32
}

func (e *AnswerError) Error() string {
	name := ""
	if e.VendorID == cx.Vendor3GPP {
		name = " " + cx.ExperimentalResultName(e.Code)
	}
	return fmt.Sprintf("%v: %s answered %d%s", ErrRefused, e.Host, e.Code, name)
}

// Unwrap makes errors.Is(err, ErrRefused) true.
func (e *AnswerError) Unwrap() error { return ErrRefused }
