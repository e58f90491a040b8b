package imsagw

import (
	"strconv"
	"strings"

	"github.com/imscore/imscore/services/imsagw/h248"
)

// The Iq profile of this AGW: which H.248 elements carry the TS 23.334 information elements. TS 29.334 maps
// most of them onto SDP in the Local and Remote descriptors and onto packages of H.248.37 (latching),
// H.248.43 (source filtering), H.248.89 (TCP connection control) and H.248.90 (TLS). The property names of
// those four Recommendations could not be read from their text when this was written, so this profile carries
// what TS 29.334 leaves to them in one private package, PackageAGW, instead of guessing public names; the SDP
// part and the Generic package (H.248.1 Annex E.1) are used as specified. docs/imsagw.md has the table.
const (
	// PackageAGW is the private package of this profile's properties.
	PackageAGW = "imsagw"
	// PropLatch ("on"/"off") is the Latching Requirement (TS 23.334 §6.2.5; H.248.37 in TS 29.334).
	PropLatch = PackageAGW + "/latch"
	// PropSAF and PropSPF ("on"/"off") are Remote source address and port filtering (TS 23.334 §6.2.4;
	// H.248.43 in TS 29.334): against the address and port of the Remote descriptor.
	PropSAF = PackageAGW + "/saf"
	PropSPF = PackageAGW + "/spf"
	// PropEstab ("now"/"interlinked") says when the AGW opens the TCP connection of a termination whose
	// Local a=setup makes it the active side (RFC 4145 §4.1): at once ("Establish TCP connection", TS 23.334
	// §6.2.10.3.1.1.2, the ALG requests it after the answer's a=setup), or when the other termination's
	// connection is up (TS 23.334 §6.2.10.3.1.1.1, H.248.89 §8 stream endpoint interlinkage: the incoming SYN at
	// T1 triggers the outgoing SYN at T2; choice: after T1's TLS handshake and fingerprint check, so nothing
	// unauthenticated reaches the core). Default "now".
	PropEstab = PackageAGW + "/estab"
	// PropRealm is the IP realm of a termination (H.248.41 ipdc/realm, TS 29.334 §5.2).
	PropRealm = "ipdc/realm"
	// EventCause is the Generic package's Cause event (H.248.1 Annex E.1.2): what this AGW reports for
	// "Notify Released Bearer" (Generalcause NR) and for a failed TCP or TLS establishment (Generalcause FT,
	// with a Failurecause text), the choice this profile makes for TS 29.334's "IP Bearer Released" and
	// "TCP/TLS connection establishment failure" notifications. The ALG asks for it with an Events descriptor.
	EventCause = "g/cause"
)

// General causes of EventCause (H.248.1 Annex E.1.2).
const (
	causeNormalRelease    = "NR"
	causeFailureTemporary = "FT"
)

// readProperties applies a stream's LocalControl properties to p; unknown ones are ignored (H.248.1 §7.1.7
// lets an MG refuse them; these belong to packages this AGW does not serve). It returns the realm, "" when
// absent, and the name of a property with a value it cannot take.
func readProperties(p *properties, props []*h248.Node) (realm, bad string) {
	onOff := func(v string, dst *bool) bool {
		switch strings.ToLower(v) {
		case "on", "true":
			*dst = true
		case "off", "false":
			*dst = false
		default:
			return false
		}
		return true
	}
	for _, n := range props {
		v := strings.Trim(n.Value, `"`)
		switch strings.ToLower(n.Name) {
		case PropRealm:
			realm = v
		case PropLatch:
			if !onOff(v, &p.latch) {
				return realm, n.Name
			}
		case PropSAF:
			if !onOff(v, &p.saf) {
				return realm, n.Name
			}
		case PropSPF:
			if !onOff(v, &p.spf) {
				return realm, n.Name
			}
		case PropEstab:
			switch strings.ToLower(v) {
			case estabNow, estabInterlinked:
				p.estab = strings.ToLower(v)
			default:
				return realm, n.Name
			}
		}
	}
	return realm, ""
}

// writeProperties is the LocalControl an AuditValue reply shows.
func (t *termination) writeProperties() []*h248.Node {
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	return []*h248.Node{
		h248.Assign("Mode", h248.ModeSendReceive),
		h248.Prop(PropRealm, strconv.Quote(t.realm)),
		h248.Prop(PropLatch, onOff(t.props.latch)),
		h248.Prop(PropSAF, onOff(t.props.saf)),
		h248.Prop(PropSPF, onOff(t.props.spf)),
		h248.Prop(PropEstab, t.props.estab),
	}
}

// readEvents reads an Events descriptor (H.248.1 §7.1.9): its request id and whether it asks for EventCause.
func readEvents(cmd *h248.Node) (id uint32, cause, present bool) {
	ev := cmd.Child("Events", "E")
	if ev == nil {
		return 0, false, false
	}
	v, err := ev.Uint()
	if err != nil {
		return 0, false, true
	}
	for _, c := range ev.Children {
		if strings.EqualFold(c.Name, EventCause) {
			cause = true
		}
	}
	return v, cause, true
}
