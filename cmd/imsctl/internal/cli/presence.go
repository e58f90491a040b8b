package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/provision"
)

// presence setup: the provisioning of the presence service (docs/presence.md) in one command.

// PresenceEvent matches the Event header of the presence package and of its watcher information
// (presence.winfo, RFC 3857), anchored so that packages whose names start alike do not match.
const PresenceEvent = `^\s*presence(\.winfo)?\s*(;.*)?$`

// presenceListEvent matches the presence package only: what a resource list serves (RFC 4662).
const presenceListEvent = `^\s*presence\s*(;.*)?$`

// PresenceIFCs are the iFCs of a user's service profile for the presence server as: third-party
// REGISTER of every kind (TS 24.229 §5.4.1.7), and PUBLISH or SUBSCRIBE of presence or presence.winfo
// for the served user as the terminating party (TS 24.141 §5.5), at priorities from first.
func PresenceIFCs(as string, first int32) []provision.IFC {
	return []provision.IFC{
		{Priority: first, TriggerPoint: &provision.TriggerPoint{SPTs: []provision.SPT{
			{Group: []int32{0}, Method: "REGISTER", RegistrationTypes: []string{"INITIAL_REGISTRATION", "RE-REGISTRATION", "DE-REGISTRATION"}}}},
			ApplicationServer: provision.ApplicationServer{ServerName: as, DefaultHandling: "SESSION_CONTINUED", ServiceInfo: "presence"}},
		{Priority: first + 1, TriggerPoint: &provision.TriggerPoint{ConditionTypeCNF: true, SPTs: []provision.SPT{
			{Group: []int32{0}, Method: "PUBLISH"}, {Group: []int32{0}, Method: "SUBSCRIBE"},
			{Group: []int32{1}, SIPHeader: &hss.HeaderMatch{Header: "Event", Content: PresenceEvent}},
			{Group: []int32{2}, SessionCase: "TERMINATING_REGISTERED"}, {Group: []int32{2}, SessionCase: "TERMINATING_UNREGISTERED"}}},
			ApplicationServer: provision.ApplicationServer{ServerName: as, DefaultHandling: "SESSION_TERMINATED"}},
	}
}

// PresenceRLSIFCs is the service profile of the resource lists' PSI: a SUBSCRIBE of presence to the
// (never registered, TS 23.228 §4.3.6) PSI goes to the presence server, the RLS.
func PresenceRLSIFCs(as string) []provision.IFC {
	return []provision.IFC{{Priority: 0, TriggerPoint: &provision.TriggerPoint{ConditionTypeCNF: true, SPTs: []provision.SPT{
		{Group: []int32{0}, Method: "SUBSCRIBE"},
		{Group: []int32{1}, SIPHeader: &hss.HeaderMatch{Header: "Event", Content: presenceListEvent}},
		{Group: []int32{2}, SessionCase: "TERMINATING_UNREGISTERED"}, {Group: []int32{2}, SessionCase: "TERMINATING_REGISTERED"}}},
		ApplicationServer: provision.ApplicationServer{ServerName: as, DefaultHandling: "SESSION_TERMINATED"}}}
}

// presenceSetup adds the presence iFCs to a service profile (replacing earlier ones for the same AS:
// the command can be run again), and creates the PSI of the resource lists: a wildcarded PSI
// (TS 23.003 §13.5) of a service identity, with a profile whose iFC sends SUBSCRIBE to the AS.
func presenceSetup(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("presence setup")
	as := fs.String("as", "", "SIP URI of the presence server (e.g. sip:127.0.0.1:5065)")
	profile := fs.String("profile", "default", "service profile of the users that get presence")
	domain := fs.String("domain", hss.DefaultDomain, "home domain of the PSI and the service identity")
	psi := fs.String("rls-psi", "", "wildcarded PSI of the resource lists (default sip:rls-!.*!@DOMAIN; \"none\": no PSI)")
	rlsProfile := fs.String("rls-profile", "presence-rls", "service profile of the PSI")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if !strings.HasPrefix(*as, "sip:") && !strings.HasPrefix(*as, "sips:") {
		return usageError("--as must be a sip: or sips: URI")
	}
	if *psi == "" {
		*psi = "sip:rls-!.*!@" + *domain
	}
	ctx, cancel, c, err := r.forAPI(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	p, err := c.GetProfile(ctx, *profile)
	if err != nil {
		return fmt.Errorf("profile %s: %w", *profile, err)
	}
	var keep []provision.IFC
	next := int32(0)
	for _, f := range p.IFCs {
		if f.ApplicationServer.ServerName == *as {
			continue // ours, from an earlier run
		}
		keep = append(keep, f)
		next = max(next, f.Priority+1)
	}
	p.IFCs = append(keep, PresenceIFCs(*as, next)...)
	p.ProfilePush = nil
	got, err := c.UpdateProfile(ctx, *p)
	if err != nil {
		return fmt.Errorf("profile %s: %w", *profile, err)
	}
	if !r.g.json {
		fmt.Fprintf(r.env.Stdout, "profile %s: presence iFCs at priorities %d, %d\n", *profile, next, next+1)
		printPush(r.env.Stdout, got.ProfilePush)
	}
	if *psi == "none" {
		return nil
	}
	rp := provision.Profile{ID: *rlsProfile, IFCs: PresenceRLSIFCs(*as)}
	if _, err := c.GetProfile(ctx, *rlsProfile); provision.IsNotFound(err) {
		_, err = c.CreateProfile(ctx, rp)
		if err != nil {
			return fmt.Errorf("profile %s: %w", *rlsProfile, err)
		}
	} else if err != nil {
		return fmt.Errorf("profile %s: %w", *rlsProfile, err)
	} else if _, err := c.UpdateProfile(ctx, rp); err != nil {
		return fmt.Errorf("profile %s: %w", *rlsProfile, err)
	}
	// The PSI hangs off a service identity (TS 23.228 §4.3.6: hosted on an AS, no UE authenticates with
	// it): a random SIP Digest password nobody knows, so that nothing can register as it.
	impi := "presence-rls@" + *domain
	if _, err := c.GetSubscriber(ctx, impi); provision.IsNotFound(err) {
		var pw [16]byte
		_, _ = rand.Read(pw[:])
		_, err = c.CreateSubscriber(ctx, provision.SubscriberRequest{IMPI: impi, Password: hex.EncodeToString(pw[:]),
			ProfileID: *rlsProfile, IMPUs: []provision.IMPURequest{{IMPU: *psi, Type: "WILDCARDED_PSI", ProfileID: *rlsProfile}}})
		if err != nil {
			return fmt.Errorf("service identity %s: %w", impi, err)
		}
	} else if err != nil {
		return fmt.Errorf("service identity %s: %w", impi, err)
	} else if _, err := c.UpdateIMPU(ctx, impi, *psi, provision.IMPURequest{IMPU: *psi, Type: "WILDCARDED_PSI", ProfileID: *rlsProfile}); provision.IsNotFound(err) {
		if _, err := c.AddIMPU(ctx, impi, provision.IMPURequest{IMPU: *psi, Type: "WILDCARDED_PSI", ProfileID: *rlsProfile}); err != nil {
			return fmt.Errorf("PSI %s: %w", *psi, err)
		}
	} else if err != nil {
		return fmt.Errorf("PSI %s: %w", *psi, err)
	}
	if !r.g.json {
		fmt.Fprintf(r.env.Stdout, "resource lists: PSI %s (service identity %s, profile %s) to %s\n", *psi, impi, *rlsProfile, *as)
	}
	return nil
}
