package cx

import (
	"errors"
	"fmt"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/imscore/imscore/diameter"
)

// Experimental-Result-Code values of TS 29.229 §6.2, vendor Vendor3GPP. They travel in an
// Experimental-Result AVP (RFC 6733 §7.6), never in Result-Code.
const (
	// Success, §6.2.1.
	FirstRegistration          diameter.ResultCode = 2001 // §6.2.1.1 DIAMETER_FIRST_REGISTRATION
	SubsequentRegistration     diameter.ResultCode = 2002 // §6.2.1.2 DIAMETER_SUBSEQUENT_REGISTRATION
	UnregisteredService        diameter.ResultCode = 2003 // §6.2.1.3 DIAMETER_UNREGISTERED_SERVICE
	SuccessServerNameNotStored diameter.ResultCode = 2004 // §6.2.1.4 DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED

	// Permanent failures, §6.2.2.
	ErrorUserUnknown                   diameter.ResultCode = 5001 // §6.2.2.1 DIAMETER_ERROR_USER_UNKNOWN
	ErrorIdentitiesDontMatch           diameter.ResultCode = 5002 // §6.2.2.2 DIAMETER_ERROR_IDENTITIES_DONT_MATCH
	ErrorIdentityNotRegistered         diameter.ResultCode = 5003 // §6.2.2.3 DIAMETER_ERROR_IDENTITY_NOT_REGISTERED
	ErrorRoamingNotAllowed             diameter.ResultCode = 5004 // §6.2.2.4 DIAMETER_ERROR_ROAMING_NOT_ALLOWED
	ErrorIdentityAlreadyRegistered     diameter.ResultCode = 5005 // §6.2.2.5 DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED
	ErrorAuthSchemeNotSupported        diameter.ResultCode = 5006 // §6.2.2.6 DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED
	ErrorInAssignmentType              diameter.ResultCode = 5007 // §6.2.2.7 DIAMETER_ERROR_IN_ASSIGNMENT_TYPE
	ErrorTooMuchData                   diameter.ResultCode = 5008 // §6.2.2.8 DIAMETER_ERROR_TOO_MUCH_DATA
	ErrorNotSupportedUserData          diameter.ResultCode = 5009 // §6.2.2.9 DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA
	ErrorFeatureUnsupported            diameter.ResultCode = 5011 // §6.2.2.10 DIAMETER_ERROR_FEATURE_UNSUPPORTED
	ErrorServingNodeFeatureUnsupported diameter.ResultCode = 5012 // §6.2.2.11 DIAMETER_ERROR_SERVING_NODE_FEATURE_UNSUPPORTED
)

// ExperimentalResultName returns the TS 29.229 §6.2 name of a Cx Experimental-Result-Code, or ""
// for a code Cx does not define.
func ExperimentalResultName(code diameter.ResultCode) string {
	switch code {
	case FirstRegistration:
		return "DIAMETER_FIRST_REGISTRATION"
	case SubsequentRegistration:
		return "DIAMETER_SUBSEQUENT_REGISTRATION"
	case UnregisteredService:
		return "DIAMETER_UNREGISTERED_SERVICE"
	case SuccessServerNameNotStored:
		return "DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED"
	case ErrorUserUnknown:
		return "DIAMETER_ERROR_USER_UNKNOWN"
	case ErrorIdentitiesDontMatch:
		return "DIAMETER_ERROR_IDENTITIES_DONT_MATCH"
	case ErrorIdentityNotRegistered:
		return "DIAMETER_ERROR_IDENTITY_NOT_REGISTERED"
	case ErrorRoamingNotAllowed:
		return "DIAMETER_ERROR_ROAMING_NOT_ALLOWED"
	case ErrorIdentityAlreadyRegistered:
		return "DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED"
	case ErrorAuthSchemeNotSupported:
		return "DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED"
	case ErrorInAssignmentType:
		return "DIAMETER_ERROR_IN_ASSIGNMENT_TYPE"
	case ErrorTooMuchData:
		return "DIAMETER_ERROR_TOO_MUCH_DATA"
	case ErrorNotSupportedUserData:
		return "DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA"
	case ErrorFeatureUnsupported:
		return "DIAMETER_ERROR_FEATURE_UNSUPPORTED"
	case ErrorServingNodeFeatureUnsupported:
		return "DIAMETER_ERROR_SERVING_NODE_FEATURE_UNSUPPORTED"
	}
	return ""
}

// Errorf returns the *diameter.Error for a Cx Experimental-Result-Code (VendorID Vendor3GPP),
// with a formatted cause for the logs: cx.Errorf(cx.ErrorUserUnknown, "mar %s", impi).
func Errorf(code diameter.ResultCode, format string, args ...any) *diameter.Error {
	return &diameter.Error{Code: code, VendorID: Vendor3GPP, Err: fmt.Errorf(format, args...)}
}

// NewError returns the *diameter.Error for a Cx Experimental-Result-Code (VendorID Vendor3GPP)
// caused by err (which may be nil).
func NewError(code diameter.ResultCode, err error) *diameter.Error {
	return &diameter.Error{Code: code, VendorID: Vendor3GPP, Err: err}
}

// ExperimentalResult is RFC 6733 §7.6 Experimental-Result: a vendor's result code.
type ExperimentalResult struct {
	VendorID uint32              // Vendor-Id; Vendor3GPP for the TS 29.229 §6.2 codes
	Code     diameter.ResultCode // Experimental-Result-Code
}

// outcome is the result part every Cx answer has: Result-Code or Experimental-Result
// (TS 29.229 §6.1.2 etc.: "[ Result-Code ] [ Experimental-Result ]", exactly one of them), and
// the Failed-AVP that explains an error (RFC 6733 §7.5).
type outcome struct {
	resultCode   *diameter.ResultCode
	experimental **ExperimentalResult
	failedAVP    *[]*diam.AVP
}

// result reads the outcome. An Experimental-Result wins when a (non-conforming) peer sent both.
func (o outcome) result() (diameter.ResultCode, uint32) {
	if e := *o.experimental; e != nil {
		return e.Code, e.VendorID
	}
	return *o.resultCode, 0
}

func (o outcome) setResultCode(code diameter.ResultCode) {
	*o.resultCode, *o.experimental = code, nil
}

func (o outcome) setExperimentalResult(vendorID uint32, code diameter.ResultCode) {
	*o.resultCode, *o.experimental = 0, &ExperimentalResult{VendorID: vendorID, Code: code}
}

// setError turns err into the answer's outcome: a *diameter.Error (found with errors.As) gives
// its code, vendor and Failed-AVP; any other error is DIAMETER_UNABLE_TO_COMPLY (RFC 6733 §7.1.5).
func (o outcome) setError(err error) {
	var de *diameter.Error
	if !errors.As(err, &de) {
		o.setResultCode(diameter.UnableToComply)
		*o.failedAVP = nil
		return
	}
	if de.VendorID != 0 {
		o.setExperimentalResult(de.VendorID, de.Code)
	} else {
		o.setResultCode(de.Code)
	}
	*o.failedAVP = de.FailedAVPs
}
