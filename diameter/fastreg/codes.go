package fastreg

// Command is a Command-Code of the token application.
type Command uint32

// AVPCode is an AVP code; the token AVPs carry VendorID with the 'V' bit set (RFC 6733 §4.1).
type AVPCode uint32

const (
	// VendorID is the Vendor-Id of the token application and its AVPs: 32473, the Private Enterprise
	// Number RFC 5612 reserves for documentation (no vendor owns it; see the package doc for why).
	VendorID uint32 = 32473
	// AppID is the vendor-specific Application-Id (RFC 6733 §11.3: 0x01000000-0xfffffffe are vendor
	// specific; 0xffffffff is Relay), advertised in CER in a Vendor-Specific-Application-Id (§6.11).
	AppID uint32 = 0xfffffffe
)

const (
	// CmdTokenPush stores a token for an IMPI at the HSS (PAA → HSS). RFC 6733 §11.2.1: 16777214 and
	// 16777215 are reserved for experimental use.
	CmdTokenPush Command = 16777214
	// CmdTokenDrop removes the IMPI's token (PAA → HSS) when the access session ends (PANA termination).
	CmdTokenDrop Command = 16777215
)

// String returns the command's name.
func (c Command) String() string {
	switch c {
	case CmdTokenPush:
		return "Token-Push"
	case CmdTokenDrop:
		return "Token-Drop"
	}
	return "Unknown"
}

const (
	// AVPToken is the token, OctetString, vendor VendorID, 'M' clear (a peer that does not know it may
	// ignore it in an MAA). Code 100 as in the 2010 prototype.
	AVPToken AVPCode = 100
	// AVPTokenLifetime is the token's lifetime in seconds from its receipt, Unsigned32, vendor VendorID.
	AVPTokenLifetime AVPCode = 101
)

// Base protocol AVPs the messages carry (RFC 6733 §4.5).
const (
	avpUserName                    AVPCode = 1
	avpSessionID                   AVPCode = 263
	avpOriginHost                  AVPCode = 264
	avpVendorID                    AVPCode = 266
	avpResultCode                  AVPCode = 268
	avpErrorMessage                AVPCode = 281
	avpDestinationRealm            AVPCode = 283
	avpDestinationHost             AVPCode = 293
	avpOriginRealm                 AVPCode = 296
	avpAuthApplicationID           AVPCode = 258
	avpAuthSessionState            AVPCode = 277
	avpVendorSpecificApplicationID AVPCode = 260
)

// Limits the HSS applies to a pushed token (docs/fastreg.md): the exporter output is 32 bytes; a token
// shorter than MinTokenLength is too easy to guess, a longer one than MaxTokenLength is no token.
const (
	MinTokenLength = 16
	MaxTokenLength = 64
)
