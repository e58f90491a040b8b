package rx

import "github.com/imscore/imscore/diameter"

// Rx Experimental-Result-Code values (vendor 10415), TS 29.214 §5.5.
const (
	// RequestedServiceTemporarilyNotAuthorized: §5.5.2 (transient), e.g. the UE's bearer is being set up.
	RequestedServiceTemporarilyNotAuthorized diameter.ResultCode = 4261
	// InvalidServiceInformation: §5.5.3, the service information is invalid or incomplete.
	InvalidServiceInformation diameter.ResultCode = 5061
	// FilterRestrictions: §5.5.3, the Flow-Description cannot be handled.
	FilterRestrictions diameter.ResultCode = 5062
	// RequestedServiceNotAuthorized: §5.5.3, the PCRF refuses the service (policy, subscription).
	RequestedServiceNotAuthorized diameter.ResultCode = 5063
	// DuplicatedAFSession: §5.5.3, a second AF session for the same service.
	DuplicatedAFSession diameter.ResultCode = 5064
	// IPCANSessionNotAvailable: §5.5.3, the PCRF has no IP-CAN session for the UE's address.
	IPCANSessionNotAvailable diameter.ResultCode = 5065
	// UnauthorizedNonEmergencySession: §5.5.3.
	UnauthorizedNonEmergencySession diameter.ResultCode = 5066
	// UnauthorizedSponsoredDataConnectivity: §5.5.3.
	UnauthorizedSponsoredDataConnectivity diameter.ResultCode = 5067
	// TemporaryNetworkFailure: §5.5.3.
	TemporaryNetworkFailure diameter.ResultCode = 5068
)
