package hss

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/userdata"
)

// userData builds the User-Data AVP value for impu's implicit registration set (TS 29.228 §6.6, Annex B/E):
// PrivateID impi, one ServiceProfile per service profile the set's identities use, every identity of the set
// with its barring indication, type and display name, and the iFCs — with shared iFC sets as SharedIFCSetID
// references when sharedIDs (the S-CSCF supports SiFC), expanded into their iFCs otherwise. A document over
// Cx.MaxUserDataBytes is DIAMETER_ERROR_TOO_MUCH_DATA (TS 29.229 §6.2.2.8).
func (s *Server) userData(ctx context.Context, impi, impu string, sharedIDs bool) ([]byte, error) {
	prof, err := s.store.UserProfile(ctx, impu)
	if err != nil {
		return nil, storeError("user profile "+impu, err)
	}
	sub, err := buildSubscription(impi, prof, sharedIDs)
	if err != nil {
		return nil, fmt.Errorf("user data %s: %w", impu, err)
	}
	b, err := userdata.Marshal(sub)
	switch {
	case errors.Is(err, userdata.ErrTooMuchData):
		return nil, cx.NewError(cx.ErrorTooMuchData, fmt.Errorf("user data %s: %w", impu, err))
	case err != nil:
		return nil, fmt.Errorf("user data %s: %w", impu, err)
	case len(b) > s.cfg.Cx.MaxUserDataBytes:
		return nil, cx.Errorf(cx.ErrorTooMuchData, "user data %s: %d bytes, more than the %d allowed", impu, len(b), s.cfg.Cx.MaxUserDataBytes)
	}
	return b, nil
}

// buildSubscription maps the store's profile onto the Annex E document.
func buildSubscription(impi string, prof *UserProfile, sharedIDs bool) (*userdata.IMSSubscription, error) {
	profiles := make(map[string]*ServiceProfile, len(prof.ServiceProfiles))
	for i := range prof.ServiceProfiles {
		profiles[prof.ServiceProfiles[i].ID] = &prof.ServiceProfiles[i]
	}
	sets := make(map[int32]*SharedIFCSet, len(prof.SharedIFCSets))
	for i := range prof.SharedIFCSets {
		sets[prof.SharedIFCSets[i].ID] = &prof.SharedIFCSets[i]
	}
	sub := &userdata.IMSSubscription{PrivateID: impi}
	index := make(map[string]int) // service profile ID → position in sub.ServiceProfiles
	for _, p := range prof.IMPUs {
		i, ok := index[p.ServiceProfileID]
		if !ok {
			sp, found := profiles[p.ServiceProfileID]
			if !found {
				return nil, fmt.Errorf("identity %s: service profile %q not in the profile data", p.IMPU, p.ServiceProfileID)
			}
			usp, err := serviceProfile(sp, sets, sharedIDs)
			if err != nil {
				return nil, err
			}
			i = len(sub.ServiceProfiles)
			index[p.ServiceProfileID] = i
			sub.ServiceProfiles = append(sub.ServiceProfiles, usp)
		}
		sub.ServiceProfiles[i].PublicIdentities = append(sub.ServiceProfiles[i].PublicIdentities, publicIdentity(p))
	}
	return sub, nil
}

func publicIdentity(p PublicIdentity) userdata.PublicIdentity {
	typ := userdata.IdentityType(p.Type)
	out := userdata.PublicIdentity{Identity: p.IMPU, Extension: &userdata.PublicIdentityExtension{IdentityType: &typ}}
	if p.Barred {
		out.BarringIndication = userdata.NewBool(true)
	}
	if p.Type == IdentityWildcardedPSI {
		out.Extension.WildcardedPSI = p.IMPU // the pattern, '!'-delimited (TS 23.003 §13.5)
	}
	if p.DisplayName != "" {
		out.Extension.Extension = &userdata.PublicIdentityExtension2{DisplayName: p.DisplayName}
	}
	return out
}

func serviceProfile(sp *ServiceProfile, sets map[int32]*SharedIFCSet, sharedIDs bool) (userdata.ServiceProfile, error) {
	var out userdata.ServiceProfile
	if sp.SubscribedMediaProfileID != nil {
		id := int(*sp.SubscribedMediaProfileID)
		out.CoreNetworkServicesAuthorization = &userdata.CoreNetworkServicesAuthorization{SubscribedMediaProfileID: &id}
	}
	ifcs := slices.Clone(sp.IFCs)
	if sharedIDs && len(sp.SharedIFCSetIDs) > 0 {
		ids := slices.Clone(sp.SharedIFCSetIDs)
		slices.Sort(ids)
		out.Extension = &userdata.ServiceProfileExtension{}
		for _, id := range ids {
			out.Extension.SharedIFCSetIDs = append(out.Extension.SharedIFCSetIDs, int(id))
		}
	} else {
		for _, id := range sp.SharedIFCSetIDs {
			set, ok := sets[id]
			if !ok {
				return out, fmt.Errorf("service profile %s: shared iFC set %d not in the profile data", sp.ID, id)
			}
			ifcs = append(ifcs, set.IFCs...)
		}
	}
	// TS 29.228 Annex B.2.2: lower Priority is evaluated first; send them in that order.
	slices.SortStableFunc(ifcs, func(a, b InitialFilterCriteria) int { return int(a.Priority) - int(b.Priority) })
	for _, f := range ifcs {
		out.InitialFilterCriteria = append(out.InitialFilterCriteria, initialFilterCriteria(f))
	}
	return out, nil
}

func initialFilterCriteria(f InitialFilterCriteria) userdata.InitialFilterCriteria {
	dh := userdata.DefaultHandling(f.ApplicationServer.DefaultHandling)
	out := userdata.InitialFilterCriteria{
		Priority: int(f.Priority),
		ApplicationServer: userdata.ApplicationServer{
			ServerName:      f.ApplicationServer.ServerName,
			DefaultHandling: &dh,
			ServiceInfo:     f.ApplicationServer.ServiceInfo,
		},
	}
	if f.ApplicationServer.IncludeRegisterRequest || f.ApplicationServer.IncludeRegisterResponse {
		ext := &userdata.ApplicationServerExt{}
		if f.ApplicationServer.IncludeRegisterRequest {
			ext.IncludeRegisterRequest = &struct{}{}
		}
		if f.ApplicationServer.IncludeRegisterResponse {
			ext.IncludeRegisterResponse = &struct{}{}
		}
		out.ApplicationServer.Extension = ext
	}
	if f.ProfilePartIndicator != nil {
		ppi := int(*f.ProfilePartIndicator)
		out.ProfilePartIndicator = &ppi
	}
	if f.TriggerPoint != nil {
		tp := &userdata.TriggerPoint{ConditionTypeCNF: userdata.Bool(f.TriggerPoint.ConditionTypeCNF)}
		for _, spt := range f.TriggerPoint.SPTs {
			tp.SPTs = append(tp.SPTs, servicePointTrigger(spt))
		}
		out.TriggerPoint = tp
	}
	return out
}

func servicePointTrigger(in ServicePointTrigger) userdata.SPT {
	var out userdata.SPT
	if in.ConditionNegated {
		out.ConditionNegated = userdata.NewBool(true)
	}
	for _, g := range in.Group {
		out.Groups = append(out.Groups, int(g))
	}
	switch {
	case in.RequestURI != "":
		v := in.RequestURI
		out.RequestURI = &v
	case in.Method != "":
		v := in.Method
		out.Method = &v
	case in.SIPHeader != nil:
		h := &userdata.HeaderCondition{Header: in.SIPHeader.Header}
		if in.SIPHeader.Content != "" {
			c := in.SIPHeader.Content
			h.Content = &c
		}
		out.SIPHeader = h
	case in.SessionCase != nil:
		sc := userdata.SessionCase(*in.SessionCase)
		out.SessionCase = &sc
	case in.SessionDescription != nil:
		sd := &userdata.SessionDescription{Line: in.SessionDescription.Line}
		if in.SessionDescription.Content != "" {
			c := in.SessionDescription.Content
			sd.Content = &c
		}
		out.SessionDescription = sd
	}
	if len(in.RegistrationTypes) > 0 {
		ext := &userdata.SPTExtension{}
		for _, rt := range in.RegistrationTypes {
			ext.RegistrationTypes = append(ext.RegistrationTypes, int(rt))
		}
		out.Extension = ext
	}
	return out
}

// chargingInformation is the SAA/PPR Charging-Information for impi (TS 29.229 §6.3.19), nil when no
// charging function is configured. priv, when the caller has read it already, saves a store read.
func (s *Server) chargingInformation(ctx context.Context, impi string, priv *PrivateIdentity) (*cx.ChargingInformation, error) {
	var (
		c   ChargingInfo
		err error
	)
	switch {
	case priv != nil && priv.Charging != nil:
		c = *priv.Charging
	case priv != nil:
		c, err = s.store.DefaultChargingInfo(ctx)
	default:
		c, err = s.store.ChargingInfo(ctx, impi)
	}
	if err != nil {
		return nil, storeError("charging information "+impi, err)
	}
	if c == (ChargingInfo{}) {
		return nil, nil
	}
	return &cx.ChargingInformation{
		PrimaryEventChargingFunctionName:        c.PrimaryECF,
		SecondaryEventChargingFunctionName:      c.SecondaryECF,
		PrimaryChargingCollectionFunctionName:   c.PrimaryCCF,
		SecondaryChargingCollectionFunctionName: c.SecondaryCCF,
	}, nil
}

// hasUnregisteredServices reports whether impu's profile has services for the unregistered state: an iFC
// for the unregistered part (ProfilePartIndicator UNREGISTERED) or one triggered by an unregistered
// session case (TS 29.228 Annex B.2.2; what LIR's "terminating services related to unregistered state"
// of §6.1.4.1 looks for).
func (s *Server) hasUnregisteredServices(ctx context.Context, impu string) (bool, error) {
	prof, err := s.store.UserProfile(ctx, impu)
	if err != nil {
		return false, storeError("user profile "+impu, err)
	}
	var ifcs []InitialFilterCriteria
	for _, sp := range prof.ServiceProfiles {
		ifcs = append(ifcs, sp.IFCs...)
	}
	for _, set := range prof.SharedIFCSets {
		ifcs = append(ifcs, set.IFCs...)
	}
	for _, f := range ifcs {
		if f.ProfilePartIndicator != nil && *f.ProfilePartIndicator == ProfilePartUnregistered {
			return true, nil
		}
		if f.TriggerPoint == nil {
			continue
		}
		for _, spt := range f.TriggerPoint.SPTs {
			if spt.SessionCase != nil && !spt.ConditionNegated &&
				(*spt.SessionCase == SessionTerminatingUnregistered || *spt.SessionCase == SessionOriginatingUnregistered) {
				return true, nil
			}
		}
	}
	return false, nil
}
