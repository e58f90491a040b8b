// Package hsstest holds the contract every hss.Store implementation must pass (RunStore), the fixtures
// it uses — exported so that HSS tests build the same subscribers — and shared benchmarks.
package hsstest

import (
	"encoding/hex"
	"fmt"

	"github.com/imscore/imscore/hss"
)

// Test keys of TS 35.208 §4.3 Test Set 1 (the ones SIPp and most test UEs are configured with). Test data,
// never real subscriber keys.
const (
	TestK  = "465b5ce8b199b49faa5f0a2ee238a6bc"
	TestOP = "cdc202d5123e20f62b6d676ac72cb318"
)

// DefaultProfileID is the service profile every Subscriber fixture references.
const DefaultProfileID = "default"

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(fmt.Sprintf("hsstest: bad hex constant %q: %v", s, err)) // constants above; cannot happen
	}
	return b
}

// IMPI returns the conventional private identity of imsi: `<IMSI>@ims.mnc001.mcc001.3gppnetwork.org`.
func IMPI(imsi string) string { return imsi + "@" + hss.DefaultDomain }

// Subscriber returns the conventional subscriber of docs/design.md §2: IMPI `<IMSI>@<domain>`; IMPUs
// `sip:<IMSI>@<domain>` (barred), `sip:<MSISDN>@<domain>` and `tel:<MSISDN>` in one implicit registration
// set (named after the IMPI) using DefaultProfileID; K and OP of TS 35.208 Test Set 1, AMF 8000, SQN 0,
// AKAv1 and AKAv2 allowed. The profile itself is not included (see Profile).
func Subscriber(imsi, msisdn string) hss.Subscriber {
	impi := IMPI(imsi)
	return hss.Subscriber{
		Private: hss.PrivateIdentity{
			IMPI:        impi,
			IMSI:        imsi,
			MSISDN:      msisdn,
			K:           mustHex(TestK),
			OP:          mustHex(TestOP),
			AMF:         [2]byte{0x80, 0x00},
			AuthSchemes: hss.AuthAKAv1MD5 | hss.AuthAKAv2MD5,
		},
		Public: []hss.PublicIdentity{
			{IMPU: "sip:" + imsi + "@" + hss.DefaultDomain, Barred: true, ImplicitSetID: impi, ServiceProfileID: DefaultProfileID},
			{IMPU: "sip:" + msisdn + "@" + hss.DefaultDomain, ImplicitSetID: impi, ServiceProfileID: DefaultProfileID},
			{IMPU: "tel:" + msisdn, ImplicitSetID: impi, ServiceProfileID: DefaultProfileID},
		},
	}
}

// Profile returns a service profile with two iFCs exercising most of TS 29.228 Annex B: third-party
// REGISTER to an AS for initial and de-registrations, and originating MESSAGE or INVITE with audio to a
// second AS (DNF with a negated header SPT).
func Profile(id string) hss.ServiceProfile {
	orig := hss.SessionOriginating
	registered := hss.ProfilePartRegistered
	media := int32(1)
	return hss.ServiceProfile{
		ID:                       id,
		SubscribedMediaProfileID: &media,
		IFCs: []hss.InitialFilterCriteria{
			{
				Priority: 0,
				TriggerPoint: &hss.TriggerPoint{ConditionTypeCNF: false, SPTs: []hss.ServicePointTrigger{{
					Group:             []int32{0},
					Method:            "REGISTER",
					RegistrationTypes: []hss.RegistrationType{hss.RegistrationInitial, hss.RegistrationDe},
				}}},
				ApplicationServer: hss.ApplicationServer{
					ServerName:             "sip:tas.ims.mnc001.mcc001.3gppnetwork.org:5065",
					DefaultHandling:        hss.SessionContinued,
					ServiceInfo:            "registration-notify",
					IncludeRegisterRequest: true,
				},
				ProfilePartIndicator: &registered,
			},
			{
				Priority: 10,
				TriggerPoint: &hss.TriggerPoint{ConditionTypeCNF: true, SPTs: []hss.ServicePointTrigger{
					{Group: []int32{0}, Method: "MESSAGE"},
					{Group: []int32{0}, Method: "INVITE"},
					{Group: []int32{1}, SessionCase: &orig},
					{Group: []int32{2}, ConditionNegated: true, SIPHeader: &hss.HeaderMatch{Header: "X-Bypass-AS"}},
					{Group: []int32{3}, SessionDescription: &hss.SDPLineMatch{Line: "m", Content: "audio"}},
					{Group: []int32{3}, RequestURI: "sip:.*@ims\\.mnc001\\.mcc001\\.3gppnetwork\\.org"},
				}},
				ApplicationServer: hss.ApplicationServer{
					ServerName:              "sip:mmtel.ims.mnc001.mcc001.3gppnetwork.org",
					DefaultHandling:         hss.SessionTerminated,
					IncludeRegisterResponse: true,
				},
			},
		},
	}
}
