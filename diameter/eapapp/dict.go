package eapapp

import (
	"bytes"
	"fmt"

	"github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/imscore/imscore/diameter/cx"
)

// AppID is the Diameter EAP application (RFC 4072 §2.1).
const AppID uint32 = 5

// Command codes.
const (
	CmdDiameterEAP        uint32 = 268 // RFC 4072 §3.1
	CmdSessionTermination uint32 = 275 // RFC 6733 §8.4
)

// AVP codes (RFC 4072 §4.1, §6; RFC 7155 for State).
const (
	AVPUserName            uint32 = 1
	AVPState               uint32 = 24 // RFC 7155 §4.6.1 (from RADIUS): opaque server state
	AVPClass               uint32 = 25
	AVPSessionTimeout      uint32 = 27
	AVPEAPKeyName          uint32 = 102 // RFC 4072 §4.1.4
	AVPAuthApplicationID   uint32 = 258
	AVPSessionID           uint32 = 263
	AVPOriginHost          uint32 = 264
	AVPResultCode          uint32 = 268
	AVPMultiRoundTimeOut   uint32 = 272
	AVPAuthRequestType     uint32 = 274
	AVPAuthSessionState    uint32 = 277
	AVPErrorMessage        uint32 = 281
	AVPDestinationRealm    uint32 = 283
	AVPDestinationHost     uint32 = 293
	AVPTerminationCause    uint32 = 295
	AVPOriginRealm         uint32 = 296
	AVPEAPPayload          uint32 = 462 // RFC 4072 §4.1.1
	AVPEAPReissuedPayload  uint32 = 463 // RFC 4072 §4.1.2
	AVPEAPMasterSessionKey uint32 = 464 // RFC 4072 §4.1.3
	AVPAccountingEAPAuth   uint32 = 465 // Accounting-EAP-Auth-Method, RFC 4072 §4.1.5
)

// Auth-Request-Type AUTHORIZE_AUTHENTICATE (RFC 6733 §8.7): RFC 4072 §3.1 requires it in the DER.
const AuthorizeAuthenticate uint32 = 3

// Result codes of the exchange (RFC 6733 §7.1, RFC 4072 §2.6).
const (
	ResultMultiRoundAuth         uint32 = 1001
	ResultSuccess                uint32 = 2001
	ResultAuthenticationRejected uint32 = 4001
	ResultUnableToComply         uint32 = 5012
)

// Termination-Cause DIAMETER_LOGOUT (RFC 6733 §8.15).
const TerminationLogout uint32 = 1

// dictionaryXML is the application in go-diameter's format: the command and the AVPs the base dictionary
// (diameter/cx/dict/base.xml) lacks, with the flag rules of RFC 4072 §6 (EAP-Master-Session-Key and
// EAP-Key-Name: M must not be set).
const dictionaryXML = `<?xml version="1.0" encoding="UTF-8"?>
<diameter>
	<application id="5" type="auth" name="Diameter EAP">
		<command code="268" short="DE" name="Diameter-EAP">
			<request>
				<rule avp="Session-Id" required="true" max="1"/>
				<rule avp="Auth-Application-Id" required="true" max="1"/>
				<rule avp="Origin-Host" required="true" max="1"/>
				<rule avp="Origin-Realm" required="true" max="1"/>
				<rule avp="Destination-Realm" required="true" max="1"/>
				<rule avp="Auth-Request-Type" required="true" max="1"/>
				<rule avp="Destination-Host" required="false" max="1"/>
				<rule avp="User-Name" required="false" max="1"/>
				<rule avp="EAP-Payload" required="true" max="1"/>
				<rule avp="EAP-Key-Name" required="false" max="1"/>
				<rule avp="State" required="false" max="1"/>
			</request>
			<answer>
				<rule avp="Session-Id" required="true" max="1"/>
				<rule avp="Auth-Application-Id" required="true" max="1"/>
				<rule avp="Auth-Request-Type" required="true" max="1"/>
				<rule avp="Result-Code" required="true" max="1"/>
				<rule avp="Origin-Host" required="true" max="1"/>
				<rule avp="Origin-Realm" required="true" max="1"/>
				<rule avp="User-Name" required="false" max="1"/>
				<rule avp="EAP-Payload" required="false" max="1"/>
				<rule avp="EAP-Reissued-Payload" required="false" max="1"/>
				<rule avp="EAP-Master-Session-Key" required="false" max="1"/>
				<rule avp="EAP-Key-Name" required="false" max="1"/>
				<rule avp="Multi-Round-Time-Out" required="false" max="1"/>
				<rule avp="Accounting-EAP-Auth-Method" required="false"/>
				<rule avp="Error-Message" required="false" max="1"/>
				<rule avp="Session-Timeout" required="false" max="1"/>
				<rule avp="State" required="false" max="1"/>
			</answer>
		</command>
		<avp name="EAP-Payload" code="462" must="M" may="P" must-not="V" may-encrypt="Y">
			<data type="OctetString"/>
		</avp>
		<avp name="EAP-Reissued-Payload" code="463" must="M" may="P" must-not="V" may-encrypt="Y">
			<data type="OctetString"/>
		</avp>
		<avp name="EAP-Master-Session-Key" code="464" must="" may="P" must-not="M,V" may-encrypt="Y">
			<data type="OctetString"/>
		</avp>
		<avp name="EAP-Key-Name" code="102" must="" may="P" must-not="M,V" may-encrypt="Y">
			<data type="OctetString"/>
		</avp>
		<avp name="Accounting-EAP-Auth-Method" code="465" must="M" may="P" must-not="V" may-encrypt="Y">
			<data type="Unsigned64"/>
		</avp>
		<avp name="State" code="24" must="M" may="P" must-not="V" may-encrypt="Y">
			<data type="OctetString"/>
		</avp>
	</application>
</diameter>`

// NewDictionary returns a fresh go-diameter dictionary with the base protocol (cx.NewDictionary, which
// also holds Cx) and this application.
func NewDictionary() (*dict.Parser, error) {
	p, err := cx.NewDictionary()
	if err != nil {
		return nil, fmt.Errorf("eap dictionary: %w", err)
	}
	if err := Load(p); err != nil {
		return nil, err
	}
	return p, nil
}

// Load adds the application to p, which must hold the base protocol.
func Load(p *dict.Parser) error {
	if err := p.Load(bytes.NewReader([]byte(dictionaryXML))); err != nil {
		return fmt.Errorf("eap dictionary: %w", err)
	}
	return nil
}
