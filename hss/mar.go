package hss

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/sip/digest"
)

// Scheme names of SIP-Authentication-Scheme (TS 29.229 §6.3.9) the HSS answers with. AKAv2 uses the same
// Milenage vectors as AKAv1 (RFC 4169 §3 only changes how the UE and S-CSCF derive the password).
const (
	SchemeAKAv1 = cx.SchemeAKAv1MD5
	SchemeAKAv2 = "Digest-AKAv2-MD5"
	// SchemeSIPDigest is answered for "SIP Digest" and for the spellings S-CSCFs in the field use for it
	// ("Digest-MD5", "Digest", "MD5"), which are echoed back as received.
	SchemeSIPDigest = cx.SchemeSIPDigest
)

// resyncLen is RAND ‖ AUTS in the SIP-Authorization of a resynchronisation MAR (TS 29.229 §6.3.11: "the
// concatenation of RAND and AUTS"; TS 33.102 §6.3.3: AUTS is 14 octets).
const resyncLen = 16 + aka.AUTSLen

// mar serves the Multimedia-Auth-Request: TS 29.228 §6.3.1 (vectors, resynchronisation, the S-CSCF name
// stored as pending) and §8.1 (a MAR from another S-CSCF).
//
// docs/design.md §4 step 4 (vectors for the 401) and the resync paragraph (RAND ‖ AUTS).
func (s *Server) mar(ctx context.Context, t *txn, req *cx.MAR, ans *cx.MAA) error {
	item := req.SIPAuthDataItem
	t.add(zap.String("scheme", item.Scheme), zap.String("server_name", req.ServerName))

	// Steps 1–3: identities known, a distinct public user identity, associated.
	priv, pub, err := s.userIdentities(ctx, req.UserName, req.PublicIdentity)
	if err != nil {
		return err
	}
	// Step 4: the scheme must be one the HSS supports and the subscriber may use.
	bit, scheme, err := chooseScheme(item.Scheme, priv.AuthSchemes)
	if err != nil {
		return err
	}

	// Resynchronisation: SIP-Authorization holds RAND ‖ AUTS (TS 33.203 §6.1.2, TS 29.229 §6.3.11).
	var keys aka.Keys
	resync := len(item.Authorization) > 0
	var sqnMS aka.SQN
	if bit.AKA() {
		if keys, err = aka.NewKeys(priv.K, priv.OP, priv.OPc, priv.AMF); err != nil {
			return fmt.Errorf("mar %s: keys: %w", priv.IMPI, err)
		}
	}
	if resync {
		if !bit.AKA() {
			return &diameter.Error{Code: diameter.InvalidAVPValue, FailedAVPs: []*diam.AVP{authorizationAVP(item.Authorization)},
				Err: fmt.Errorf("mar %s: SIP-Authorization with scheme %q: only IMS AKA resynchronises", priv.IMPI, scheme)}
		}
		if len(item.Authorization) != resyncLen {
			return &diameter.Error{Code: diameter.InvalidAVPValue, FailedAVPs: []*diam.AVP{authorizationAVP(item.Authorization)},
				Err: fmt.Errorf("mar %s: SIP-Authorization of %d octets, want RAND ‖ AUTS = %d", priv.IMPI, len(item.Authorization), resyncLen)}
		}
		var rand [16]byte
		copy(rand[:], item.Authorization[:16])
		sqnMS, err = aka.Resync(keys, rand, item.Authorization[16:])
		if err != nil {
			s.metrics.observeResync(false)
			if errors.Is(err, aka.ErrMACSMismatch) || errors.Is(err, aka.ErrInvalidAUTS) {
				// Not the subscriber's USIM: SQN_HE stays as it is (TS 33.102 §6.3.5 step 4).
				return diameter.Errorf(diameter.AuthenticationRejected, "mar %s: resynchronisation refused: %w", priv.IMPI, err)
			}
			return fmt.Errorf("mar %s: resync: %w", priv.IMPI, err)
		}
		t.add(zap.Bool("resync", true))
	}

	// Step 5: the S-CSCF name, written with the SQN reservation when both change (one transaction).
	assign := &marAssignment{name: req.ServerName, host: req.OriginHost, resync: resync}
	var regFn func(ImplicitSetState) (RegistrationChange, error)
	if _, changed, _ := assign.decide(pub.Registration); changed {
		regFn = assign.update // else decided without a write; a race only delays the write to the next MAR
	}

	var items []cx.SIPAuthDataItem
	if bit == AuthSIPDigest {
		if regFn != nil {
			if err := s.store.UpdateRegistration(ctx, "", pub.IMPU, regFn); err != nil {
				return storeError("mar assignment", err)
			}
		}
		items, err = s.digestItems(priv, scheme)
	} else {
		n := req.SIPNumberAuthItems
		if n < 1 {
			n = 1
		}
		n = min(n, s.cfg.Cx.MaxAuthItems) // TS 29.228 §6.3.1: the HSS may return fewer than requested
		items, err = s.akaItems(ctx, priv, pub, keys, scheme, int(n), resync, sqnMS, regFn)
	}
	if err != nil {
		return err
	}
	s.marReplaced(t, req, assign)
	if resync {
		s.metrics.observeResync(true)
	}
	s.metrics.observeVectors(scheme, len(items))
	count := uint32(len(items))
	ans.UserName, ans.PublicIdentity = priv.IMPI, pub.IMPU
	ans.SIPNumberAuthItems, ans.SIPAuthDataItems = &count, items
	s.fastreg.attach(ctx, t, priv.IMPI, ans) // docs/fastreg.md: the token beside the vector
	ans.SetResultCode(diameter.Success)
	t.add(zap.Uint32("vectors", count))
	return nil
}

// chooseScheme maps the requested SIP-Authentication-Scheme to one of the subscriber's schemes: an explicit
// scheme must be supported and allowed, "Unknown" picks the subscriber's default (AKAv1, then AKAv2, then SIP
// Digest). Anything else is DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED (TS 29.228 §6.3.1 step 4).
func chooseScheme(requested string, allowed AuthSchemes) (AuthSchemes, string, error) {
	var bit AuthSchemes
	name := requested
	switch strings.ToLower(strings.TrimSpace(requested)) {
	case strings.ToLower(SchemeAKAv1):
		bit, name = AuthAKAv1MD5, SchemeAKAv1
	case strings.ToLower(SchemeAKAv2):
		bit, name = AuthAKAv2MD5, SchemeAKAv2
	case strings.ToLower(SchemeSIPDigest), "digest-md5", "digest", "md5":
		bit = AuthSIPDigest
	case strings.ToLower(cx.SchemeUnknown), "":
		for _, c := range []struct {
			bit  AuthSchemes
			name string
		}{{AuthAKAv1MD5, SchemeAKAv1}, {AuthAKAv2MD5, SchemeAKAv2}, {AuthSIPDigest, SchemeSIPDigest}} {
			if allowed.Has(c.bit) {
				return c.bit, c.name, nil
			}
		}
		return 0, "", cx.Errorf(cx.ErrorAuthSchemeNotSupported, "scheme %q: the subscriber may use no scheme", requested)
	default:
		return 0, "", cx.Errorf(cx.ErrorAuthSchemeNotSupported, "scheme %q is not supported", requested)
	}
	if !allowed.Has(bit) {
		return 0, "", cx.Errorf(cx.ErrorAuthSchemeNotSupported, "scheme %q is not allowed for the subscriber (%s)", requested, allowed)
	}
	return bit, name, nil
}

// authorizationAVP rebuilds SIP-Auth-Data-Item { SIP-Authorization } for Failed-AVP (RFC 6733 §7.5: the
// grouped AVP with only the offending AVP inside).
func authorizationAVP(v []byte) *diam.AVP {
	inner := diam.NewAVP(uint32(cx.AVPSIPAuthorization), avp.Mbit|avp.Vbit, cx.Vendor3GPP, datatype.OctetString(v))
	return diam.NewAVP(uint32(cx.AVPSIPAuthDataItem), avp.Mbit|avp.Vbit, cx.Vendor3GPP, &diam.GroupedAVP{AVP: []*diam.AVP{inner}})
}

// marAssignment records the requesting S-CSCF (TS 29.228 §6.3.1 step 5, §8.1):
//   - no S-CSCF assigned: its name is stored as pending (authentication pending), replacing another
//     pending name unless the MAR is a resynchronisation;
//   - another S-CSCF assigned: the name is overwritten (§8.1, not for a resynchronisation), and the old
//     S-CSCF is sent an RTR with NEW_SERVER_ASSIGNED for the set unless it is the same Diameter node
//     (§8.1.1 compares the Diameter addresses; marReplaced);
//   - the same S-CSCF assigned: nothing changes.
type marAssignment struct {
	name, host string
	resync     bool
	old        ImplicitSetState // the state update found
	replaced   bool             // update overwrote another S-CSCF's name
}

// decide returns the new registration data and whether it changed and replaced another S-CSCF.
func (a *marAssignment) decide(reg Registration) (Registration, bool, bool) {
	switch {
	case reg.SCSCFName == "":
		if reg.PendingSCSCF == a.name || (a.resync && reg.PendingSCSCF != "") {
			return reg, false, false
		}
		reg.PendingSCSCF = a.name
		return reg, true, false
	case reg.SCSCFName == a.name || a.resync:
		return reg, false, false
	}
	reg.SCSCFName, reg.SCSCFOriginHost, reg.PendingSCSCF = a.name, a.host, ""
	return reg, true, true
}

// update is the Store.UpdateRegistration function of the assignment.
func (a *marAssignment) update(cur ImplicitSetState) (RegistrationChange, error) {
	reg, _, rep := a.decide(cur.Registration)
	a.old, a.replaced = cur, rep
	return RegistrationChange{Registration: reg}, nil
}

// marReplaced sends the RTR of §8.1.1 to the S-CSCF an assignment replaced, in the background.
func (s *Server) marReplaced(t *txn, req *cx.MAR, a *marAssignment) {
	if !a.replaced {
		return
	}
	old := a.old
	t.add(zap.String("replaced_scscf", old.Registration.SCSCFName))
	oldHost := old.Registration.SCSCFOriginHost
	if oldHost == "" || oldHost == a.host {
		return
	}
	impis := old.RegisteredIMPIs
	if len(impis) == 0 {
		impis = []string{req.UserName}
	}
	s.background(func(ctx context.Context) {
		for _, impi := range impis {
			// The registrations in the old S-CSCF end there; its answer changes nothing here.
			_, _ = s.sendRTR(ctx, oldHost, impi, old.IMPUs, cx.ReasonNewServerAssigned,
				"a new S-CSCF has been assigned")
		}
	})
}

// akaItems takes n SQNs from the identity's reserved block (sqnblock.go) or, when it has none left, reserves
// the next block in one store transaction (after moving SQN_HE for a verified resync), and computes the
// vectors outside it (hss/aka package doc): RAND ‖ AUTN, XRES, CK, IK per item, numbered in the order the
// S-CSCF is to use them (TS 29.229 §6.3.14).
//
// regFn, when not nil, is the S-CSCF assignment to store (marAssignment): in the transaction that reserves
// SQNs when one is needed, else alone.
func (s *Server) akaItems(ctx context.Context, priv *PrivateIdentity, pub *PublicIdentity, keys aka.Keys, scheme string, n int,
	resync bool, sqnMS aka.SQN, regFn func(ImplicitSetState) (RegistrationChange, error)) ([]cx.SIPAuthDataItem, error) {
	impi := priv.IMPI
	var sqns []aka.SQN
	if resync {
		// TS 33.102 §6.3.5: SQN_HE is decided from SQN_MS in the store; what this HSS reserved before is
		// discarded (its SQNs are skipped).
		s.blocks.drop(impi)
	} else {
		sqns = s.blocks.take(impi, priv.SQN, n, s.sqn)
	}
	if sqns != nil && regFn != nil {
		if err := s.store.UpdateRegistration(ctx, "", pub.IMPU, regFn); err != nil {
			return nil, storeError("mar assignment", err)
		}
	}
	if sqns == nil {
		var end aka.SQN
		reserve := func(current uint64) (uint64, error) {
			cur := aka.SQN(current)
			if resync {
				next, err := aka.SQNAfterResync(cur, sqnMS, s.sqn)
				if err != nil {
					return 0, err
				}
				cur = next
			}
			var err error
			if sqns, err = aka.NextSQNs(cur, n, s.sqn); err != nil {
				return 0, err
			}
			// The store records the end of the reservation as SQN_HE (every reserved SQN counts as
			// generated); near the end of the SEQ space the block shrinks to the n issued now.
			if end, err = aka.SQNAfter(cur, max(uint64(n), s.blocks.size), s.sqn); err != nil {
				end = sqns[len(sqns)-1]
			}
			return uint64(end), nil
		}
		if regFn != nil {
			if err := s.store.UpdateRegistrationAndSQN(ctx, "", pub.IMPU, regFn, impi, reserve); err != nil {
				return nil, storeError(fmt.Sprintf("mar %s: assignment and %d SQNs", impi, n), err)
			}
		} else if err := s.store.UpdateSQN(ctx, impi, reserve); err != nil {
			return nil, fmt.Errorf("mar %s: allocate %d SQNs: %w", impi, n, err)
		}
		s.blocks.put(impi, sqns[len(sqns)-1], end)
	}
	items := make([]cx.SIPAuthDataItem, len(sqns))
	for i, sqn := range sqns {
		rand, err := aka.NewRAND()
		if err != nil {
			return nil, fmt.Errorf("mar %s: %w", impi, err)
		}
		v, err := aka.GenerateVector(keys, sqn, rand)
		if err != nil {
			return nil, fmt.Errorf("mar %s: %w", impi, err)
		}
		num := uint32(i + 1)
		items[i] = cx.SIPAuthDataItem{
			ItemNumber:         &num,
			Scheme:             scheme,
			Authenticate:       append(v.RAND[:len(v.RAND):len(v.RAND)], v.AUTN[:]...), // RAND ‖ AUTN, TS 29.229 §6.3.10
			Authorization:      v.XRES,                                                 // XRES, §6.3.11
			ConfidentialityKey: v.CK[:],                                                // §6.3.27
			IntegrityKey:       v.IK[:],                                                // §6.3.28
		}
	}
	return items, nil
}

// SchemeDigestMD5 is the name the FOKUS Open IMS Core and Kamailio's ims_auth give their own MD5 scheme
// (AUTH_MD5). Unlike 3GPP SIP Digest, its S-CSCF takes the nonce from SIP-Authenticate and computes H(A1)
// itself from the password it finds in SIP-Authorization; answered with SIP-Digest-Authenticate it
// challenges with nonce="" and can never verify a response.
const SchemeDigestMD5 = "Digest-MD5"

// digestItems is the one SIP Digest item (TS 29.228 Table 6.3.7): realm, qop "auth", algorithm MD5 and
// H(A1); the password itself never leaves the HSS. A request for "Digest-MD5" gets the form its clients
// expect instead (digestMD5Item).
func (s *Server) digestItems(priv *PrivateIdentity, scheme string) ([]cx.SIPAuthDataItem, error) {
	if strings.EqualFold(scheme, SchemeDigestMD5) {
		return digestMD5Item(priv, scheme)
	}
	realm := s.cfg.digestRealm()
	ha1 := strings.ToLower(priv.DigestHA1)
	if ha1 == "" {
		if priv.DigestPassword == "" {
			return nil, fmt.Errorf("mar %s: SIP Digest allowed but neither password nor HA1 stored", priv.IMPI)
		}
		// RFC 2617 §3.2.2.2: A1 = username ":" realm ":" password, the username being the IMPI
		// (TS 24.229 §5.4.1.2.1: the private user identity is the digest username).
		ha1 = digest.HA1(priv.IMPI, realm, []byte(priv.DigestPassword))
	}
	return []cx.SIPAuthDataItem{{
		Scheme: scheme,
		DigestAuthenticate: &cx.SIPDigestAuthenticate{
			Realm:     realm,
			Algorithm: "MD5",
			QoP:       "auth",
			HA1:       ha1,
		},
	}}, nil
}

// digestMD5Item answers the "Digest-MD5" scheme the way the S-CSCFs that name it read it: SIP-Authenticate
// holds a fresh 16-octet nonce (sent hex-encoded in the challenge) and SIP-Authorization the password (the
// S-CSCF computes H(A1) = MD5(IMPI:realm:password) itself). The password crosses Cx, so this answer only
// ever goes to a configured, authenticated Diameter peer (docs/security.md); a subscriber provisioned with
// H(A1) alone cannot use this scheme: DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED says so rather than a
// challenge nobody can answer.
func digestMD5Item(priv *PrivateIdentity, scheme string) ([]cx.SIPAuthDataItem, error) {
	if priv.DigestPassword == "" {
		return nil, cx.Errorf(cx.ErrorAuthSchemeNotSupported,
			"mar %s: scheme %s needs the digest password, and only H(A1) is stored", priv.IMPI, scheme)
	}
	nonce, err := aka.NewRAND() // 128 random bits from crypto/rand
	if err != nil {
		return nil, fmt.Errorf("mar %s: nonce: %w", priv.IMPI, err)
	}
	return []cx.SIPAuthDataItem{{
		Scheme:        scheme,
		Authenticate:  nonce[:],
		Authorization: []byte(priv.DigestPassword),
	}}, nil
}
