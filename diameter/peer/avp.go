package peer

import (
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
)

// Base protocol AVP codes used by the peer layer, RFC 6733 §4.5.
const (
	avpHostIPAddress               uint32 = 257
	avpAuthApplicationID           uint32 = 258
	avpAcctApplicationID           uint32 = 259
	avpVendorSpecificApplicationID uint32 = 260
	avpSessionID                   uint32 = 263
	avpOriginHost                  uint32 = 264
	avpSupportedVendorID           uint32 = 265
	avpVendorID                    uint32 = 266
	avpFirmwareRevision            uint32 = 267
	avpResultCode                  uint32 = 268
	avpProductName                 uint32 = 269
	avpDisconnectCause             uint32 = 273
	avpAuthSessionState            uint32 = 277
	avpOriginStateID               uint32 = 278
	avpFailedAVP                   uint32 = 279
	avpErrorMessage                uint32 = 281
	avpDestinationRealm            uint32 = 283
	avpProxyInfo                   uint32 = 284
	avpDestinationHost             uint32 = 293
	avpOriginRealm                 uint32 = 296
	avpExperimentalResult          uint32 = 297
	avpExperimentalResultCode      uint32 = 298
)

// disconnectCause is the Disconnect-Cause of a DPR, RFC 6733 §5.4.3.
type disconnectCause int32

const (
	// causeNone marks a connection that closed without a DPR from the peer.
	causeNone disconnectCause = -1
	// causeRebooting: "A receiver of a DPR with above result code MAY attempt reconnection."
	causeRebooting disconnectCause = 0
	// causeBusy and causeDoNotWantToTalkToYou: the receiver "SHOULD NOT attempt reconnection".
	causeBusy                 disconnectCause = 1
	causeDoNotWantToTalkToYou disconnectCause = 2
)

func (c disconnectCause) String() string {
	switch c {
	case causeNone:
		return "none"
	case causeRebooting:
		return "REBOOTING"
	case causeBusy:
		return "BUSY"
	case causeDoNotWantToTalkToYou:
		return "DO_NOT_WANT_TO_TALK_TO_YOU"
	}
	return "unknown"
}

// findAVP returns the first top-level base-protocol AVP (no Vendor-Id) with code, or nil.
func findAVP(avps []*diam.AVP, code uint32) *diam.AVP {
	for _, a := range avps {
		if a != nil && a.Code == code && a.VendorID == 0 {
			return a
		}
	}
	return nil
}

// avpString returns the text of a string-like AVP value.
func avpString(a *diam.AVP) (string, bool) {
	if a == nil {
		return "", false
	}
	switch v := a.Data.(type) {
	case datatype.DiameterIdentity:
		return string(v), true
	case datatype.UTF8String:
		return string(v), true
	case datatype.OctetString:
		return string(v), true
	case datatype.DiameterURI:
		return string(v), true
	case datatype.Unknown:
		return string(v), true
	}
	return "", false
}

// avpUint32 returns the value of an Unsigned32, Integer32 or Enumerated AVP.
func avpUint32(a *diam.AVP) (uint32, bool) {
	if a == nil {
		return 0, false
	}
	switch v := a.Data.(type) {
	case datatype.Unsigned32:
		return uint32(v), true
	case datatype.Integer32:
		return uint32(v), true
	case datatype.Enumerated:
		return uint32(v), true
	}
	return 0, false
}

// groupedAVPs returns the AVPs inside a Grouped AVP.
func groupedAVPs(a *diam.AVP) []*diam.AVP {
	if a == nil {
		return nil
	}
	if g, ok := a.Data.(*diam.GroupedAVP); ok {
		return g.AVP
	}
	return nil
}

// resultOf returns an answer's Result-Code, or its Experimental-Result-Code and Vendor-Id
// (RFC 6733 §7.6); ok is false when the answer carries neither.
func resultOf(m *diam.Message) (code, vendor uint32, ok bool) {
	if m == nil {
		return 0, 0, false
	}
	if v, ok := avpUint32(findAVP(m.AVP, avpResultCode)); ok {
		return v, 0, true
	}
	inner := groupedAVPs(findAVP(m.AVP, avpExperimentalResult))
	code, ok = avpUint32(findAVP(inner, avpExperimentalResultCode))
	vendor, _ = avpUint32(findAVP(inner, avpVendorID))
	return code, vendor, ok
}

// sessionIDOf returns the Session-Id of a decoded message, "" if none.
func sessionIDOf(m *diam.Message) string {
	if m == nil {
		return ""
	}
	s, _ := avpString(findAVP(m.AVP, avpSessionID))
	return s
}

// newAVP builds a base-protocol AVP. Unlike diam.NewAVP it does not call data.Len(), which
// panics when a Grouped value holds an AVP without value (a handler's Failed-AVP, say): such
// an AVP makes encode fail instead.
func newAVP(code uint32, flags uint8, data datatype.Type) *diam.AVP {
	return &diam.AVP{Code: code, Flags: flags, Data: data}
}
