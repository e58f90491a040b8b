package provision

import (
	"fmt"
	"strings"

	"github.com/imscore/imscore/hss"
)

// Conversion of service profiles and initial filter criteria (TS 29.228 Annex B.2) between the API's
// JSON, which names enumerations as TS 29.228 does, and the store's model.

func (p *Profile) serviceProfile() (hss.ServiceProfile, error) {
	sp := hss.ServiceProfile{ID: p.ID, SubscribedMediaProfileID: p.SubscribedMediaProfileID,
		SharedIFCSetIDs: p.SharedIFCSetIDs}
	if err := validText("id", p.ID); err != nil {
		return sp, err
	}
	ifcs, err := ifcsIn("ifcs", p.IFCs)
	if err != nil {
		return sp, err
	}
	sp.IFCs = ifcs
	seen := map[int32]bool{}
	for i, id := range p.SharedIFCSetIDs {
		if seen[id] {
			return sp, fieldError(fmt.Sprintf("shared_ifc_set_ids[%d]", i), "%d listed twice", id)
		}
		seen[id] = true
	}
	if err := sp.Validate(); err != nil {
		return sp, &Error{Status: 400, Code: CodeInvalid, Message: err.Error(), cause: err}
	}
	return sp, nil
}

func (s *IFCSet) sharedIFCSet() (hss.SharedIFCSet, error) {
	set := hss.SharedIFCSet{ID: s.ID}
	ifcs, err := ifcsIn("ifcs", s.IFCs)
	if err != nil {
		return set, err
	}
	set.IFCs = ifcs
	if err := set.Validate(); err != nil {
		return set, &Error{Status: 400, Code: CodeInvalid, Message: err.Error(), cause: err}
	}
	return set, nil
}

func ifcsIn(field string, in []IFC) ([]hss.InitialFilterCriteria, error) {
	out := make([]hss.InitialFilterCriteria, 0, len(in))
	priorities := map[int32]bool{}
	for i := range in {
		f := &in[i]
		fld := fmt.Sprintf("%s[%d]", field, i)
		if priorities[f.Priority] {
			// TS 29.228 Annex B: Priority orders the iFCs; two equal ones leave the order undefined.
			return nil, fieldError(fld+".priority", "%d used twice", f.Priority)
		}
		priorities[f.Priority] = true
		c, err := f.criteria(fld)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (f *IFC) criteria(field string) (hss.InitialFilterCriteria, error) {
	c := hss.InitialFilterCriteria{Priority: f.Priority}
	as := &f.ApplicationServer
	if err := validText(field+".application_server.server_name", as.ServerName); err != nil {
		return c, err
	}
	c.ApplicationServer = hss.ApplicationServer{ServerName: as.ServerName, ServiceInfo: as.ServiceInfo,
		IncludeRegisterRequest: as.IncludeRegisterRequest, IncludeRegisterResponse: as.IncludeRegisterResponse}
	if as.DefaultHandling != "" {
		v, err := defaultHandlings.parse(field+".application_server.default_handling", as.DefaultHandling)
		if err != nil {
			return c, err
		}
		c.ApplicationServer.DefaultHandling = hss.DefaultHandling(v)
	}
	if f.ProfilePartIndicator != "" {
		v, err := profileParts.parse(field+".profile_part_indicator", f.ProfilePartIndicator)
		if err != nil {
			return c, err
		}
		ppi := hss.ProfilePartIndicator(v)
		c.ProfilePartIndicator = &ppi
	}
	if f.TriggerPoint == nil {
		return c, nil
	}
	tp := &hss.TriggerPoint{ConditionTypeCNF: f.TriggerPoint.ConditionTypeCNF}
	if len(f.TriggerPoint.SPTs) == 0 {
		return c, fieldError(field+".trigger_point.spt", "empty: a trigger point needs at least one SPT (or omit it)")
	}
	for j := range f.TriggerPoint.SPTs {
		spt, err := f.TriggerPoint.SPTs[j].trigger(fmt.Sprintf("%s.trigger_point.spt[%d]", field, j))
		if err != nil {
			return c, err
		}
		tp.SPTs = append(tp.SPTs, spt)
	}
	c.TriggerPoint = tp
	return c, nil
}

func (s *SPT) trigger(field string) (hss.ServicePointTrigger, error) {
	t := hss.ServicePointTrigger{ConditionNegated: s.ConditionNegated, Group: s.Group, RequestURI: s.RequestURI,
		Method: s.Method, SIPHeader: s.SIPHeader, SessionDescription: s.SessionDescription}
	if len(s.Group) == 0 {
		return t, fieldError(field+".group", "empty: tSePoTri needs at least one Group")
	}
	n := 0
	for _, set := range []bool{s.RequestURI != "", s.Method != "", s.SIPHeader != nil, s.SessionCase != "",
		s.SessionDescription != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		// tSePoTri is a choice (TS 29.228 Annex B): exactly one condition per SPT.
		return t, fieldError(field, "%d conditions: want exactly one of request_uri, method, sip_header, session_case, session_description", n)
	}
	if s.SIPHeader != nil && s.SIPHeader.Header == "" {
		return t, fieldError(field+".sip_header.header", "empty")
	}
	if s.SessionDescription != nil && s.SessionDescription.Line == "" {
		return t, fieldError(field+".session_description.line", "empty")
	}
	if s.SessionCase != "" {
		v, err := sessionCases.parse(field+".session_case", s.SessionCase)
		if err != nil {
			return t, err
		}
		sc := hss.SessionCase(v)
		t.SessionCase = &sc
	}
	if len(s.RegistrationTypes) > 0 && !strings.EqualFold(s.Method, "REGISTER") {
		return t, fieldError(field+".registration_types", "only with method REGISTER")
	}
	for k, name := range s.RegistrationTypes {
		v, err := registrationTypes.parse(fmt.Sprintf("%s.registration_types[%d]", field, k), name)
		if err != nil {
			return t, err
		}
		t.RegistrationTypes = append(t.RegistrationTypes, hss.RegistrationType(v))
	}
	return t, nil
}

func profileOut(p *hss.ServiceProfile) Profile {
	return Profile{ID: p.ID, SubscribedMediaProfileID: p.SubscribedMediaProfileID, IFCs: ifcsOut(p.IFCs),
		SharedIFCSetIDs: p.SharedIFCSetIDs, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

func ifcSetOut(s *hss.SharedIFCSet) IFCSet {
	return IFCSet{ID: s.ID, IFCs: ifcsOut(s.IFCs), CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

func ifcsOut(in []hss.InitialFilterCriteria) []IFC {
	out := make([]IFC, 0, len(in))
	for i := range in {
		c := &in[i]
		f := IFC{Priority: c.Priority, ApplicationServer: ApplicationServer{
			ServerName:              c.ApplicationServer.ServerName,
			DefaultHandling:         defaultHandlings.name(uint8(c.ApplicationServer.DefaultHandling)),
			ServiceInfo:             c.ApplicationServer.ServiceInfo,
			IncludeRegisterRequest:  c.ApplicationServer.IncludeRegisterRequest,
			IncludeRegisterResponse: c.ApplicationServer.IncludeRegisterResponse,
		}}
		if c.ProfilePartIndicator != nil {
			f.ProfilePartIndicator = profileParts.name(uint8(*c.ProfilePartIndicator))
		}
		if c.TriggerPoint != nil {
			tp := &TriggerPoint{ConditionTypeCNF: c.TriggerPoint.ConditionTypeCNF, SPTs: []SPT{}}
			for _, t := range c.TriggerPoint.SPTs {
				s := SPT{ConditionNegated: t.ConditionNegated, Group: t.Group, RequestURI: t.RequestURI,
					Method: t.Method, SIPHeader: t.SIPHeader, SessionDescription: t.SessionDescription}
				if t.SessionCase != nil {
					s.SessionCase = sessionCases.name(uint8(*t.SessionCase))
				}
				for _, rt := range t.RegistrationTypes {
					s.RegistrationTypes = append(s.RegistrationTypes, registrationTypes.name(uint8(rt)))
				}
				tp.SPTs = append(tp.SPTs, s)
			}
			f.TriggerPoint = tp
		}
		out = append(out, f)
	}
	return out
}
