package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/imscore/imscore/hss/provision"
)

// Service profiles and their initial filter criteria (TS 29.228 Annex B.2.2). The iFC form offers only what
// an iFC can hold — a method and a session case from lists, a request URI, each optionally negated, ANDed in
// one group of a DNF trigger point — and the console builds the iFC from it, so the form cannot express an
// invalid one; the API validates the profile again when it is saved (PUT /api/v1/profiles/{id}).

// ifcMethods are the SIP methods the form offers for a Method SPT.
var ifcMethods = []string{"INVITE", "MESSAGE", "REGISTER", "SUBSCRIBE", "NOTIFY", "OPTIONS", "PUBLISH", "REFER", "INFO", "UPDATE"}

// sessionCases are tSessionCase of TS 29.228 Annex B, as the API names them.
var sessionCases = []string{"ORIGINATING_REGISTERED", "TERMINATING_REGISTERED", "TERMINATING_UNREGISTERED",
	"ORIGINATING_UNREGISTERED", "ORIGINATING_CDIV"}

// registrationTypes restrict a REGISTER trigger (TS 29.228 Annex B tRegistrationType).
var registrationTypes = []string{"INITIAL_REGISTRATION", "RE-REGISTRATION", "DE-REGISTRATION"}

type profilesData struct {
	Profiles []provision.Profile
}

func (c *Console) profiles(r *http.Request, v *view) (string, error) {
	v.Title = "Service profiles"
	d := &profilesData{}
	v.Data = d
	var err error
	d.Profiles, err = c.api.ListProfiles(r.Context())
	return "profiles", err
}

func (c *Console) createProfile(r *http.Request, v *view) (string, error) {
	id := strings.TrimSpace(r.PostFormValue("id"))
	p, err := c.api.CreateProfile(r.Context(), provision.Profile{ID: id, IFCs: []provision.IFC{}})
	if err != nil {
		return "", err
	}
	return profileURL(p.ID) + "?notice=profile", nil
}

func profileURL(id string) string { return "/profiles/" + url.PathEscape(id) }

type profileData struct {
	P                 *provision.Profile
	Methods           []string
	SessionCases      []string
	RegistrationTypes []string
	NextPriority      int32
}

func (c *Console) profile(r *http.Request, v *view) (string, error) {
	id := r.PathValue("id")
	v.Title = "Service profile " + id
	d := &profileData{Methods: ifcMethods, SessionCases: sessionCases, RegistrationTypes: registrationTypes}
	v.Data = d
	p, err := c.api.GetProfile(r.Context(), id)
	if err != nil {
		return "error", err
	}
	d.P = p
	for _, f := range p.IFCs {
		d.NextPriority = max(d.NextPriority, f.Priority+1)
	}
	return "profile", nil
}

// ifcFromForm builds one iFC from the iFC form, refusing values outside the form's lists.
func ifcFromForm(r *http.Request) (provision.IFC, error) {
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	var out provision.IFC
	prio, err := strconv.ParseInt(f("priority"), 10, 32)
	if err != nil || prio < 0 {
		return out, badField("priority", "want a whole number, 0 or more")
	}
	out.Priority = int32(prio)
	out.ApplicationServer = provision.ApplicationServer{ServerName: f("server_name"), DefaultHandling: f("default_handling"),
		ServiceInfo: f("service_info"), IncludeRegisterRequest: r.PostFormValue("include_register_request") == "on",
		IncludeRegisterResponse: r.PostFormValue("include_register_response") == "on"}
	if !strings.HasPrefix(out.ApplicationServer.ServerName, "sip:") && !strings.HasPrefix(out.ApplicationServer.ServerName, "sips:") {
		return out, badField("server_name", "want the application server's SIP URI (sip:as.example.org)")
	}
	if dh := out.ApplicationServer.DefaultHandling; dh != "SESSION_CONTINUED" && dh != "SESSION_TERMINATED" {
		return out, badField("default_handling", "want SESSION_CONTINUED or SESSION_TERMINATED")
	}
	switch pp := f("profile_part"); pp {
	case "", "REGISTERED", "UNREGISTERED":
		out.ProfilePartIndicator = pp
	default:
		return out, badField("profile_part", "want REGISTERED, UNREGISTERED or empty")
	}
	var spts []provision.SPT
	neg := func(k string) bool { return r.PostFormValue(k+"_negated") == "on" }
	if m := f("method"); m != "" {
		if !slices.Contains(ifcMethods, m) {
			return out, badField("method", "want one of %v", ifcMethods)
		}
		spt := provision.SPT{Method: m, ConditionNegated: neg("method"), Group: []int32{0}}
		for _, t := range r.PostForm["registration_type"] {
			if !slices.Contains(registrationTypes, t) {
				return out, badField("registration_type", "want some of %v", registrationTypes)
			}
			if m != "REGISTER" {
				return out, badField("registration_type", "only a REGISTER trigger has registration types")
			}
			spt.RegistrationTypes = append(spt.RegistrationTypes, t)
		}
		spts = append(spts, spt)
	} else if len(r.PostForm["registration_type"]) > 0 {
		return out, badField("registration_type", "only a REGISTER trigger has registration types")
	}
	if sc := f("session_case"); sc != "" {
		if !slices.Contains(sessionCases, sc) {
			return out, badField("session_case", "want one of %v", sessionCases)
		}
		spts = append(spts, provision.SPT{SessionCase: sc, ConditionNegated: neg("session_case"), Group: []int32{0}})
	}
	if ru := f("request_uri"); ru != "" {
		spts = append(spts, provision.SPT{RequestURI: ru, ConditionNegated: neg("request_uri"), Group: []int32{0}})
	}
	if len(spts) > 0 {
		out.TriggerPoint = &provision.TriggerPoint{SPTs: spts} // DNF, one group: the conditions ANDed
	}
	return out, nil
}

func (c *Console) addIFC(r *http.Request, v *view) (string, error) {
	id := r.PathValue("id")
	ifc, err := ifcFromForm(r)
	if err != nil {
		return "", err
	}
	p, err := c.api.GetProfile(r.Context(), id)
	if err != nil {
		return "", err
	}
	p.IFCs = append(p.IFCs, ifc)
	p.ProfilePush = nil
	if _, err := c.api.UpdateProfile(r.Context(), *p); err != nil {
		return "", err
	}
	return profileURL(id) + "?notice=ifc", nil
}

func (c *Console) deleteIFC(r *http.Request, v *view) (string, error) {
	id := r.PathValue("id")
	i, err := strconv.Atoi(r.PostFormValue("index"))
	if err != nil {
		return "", badField("index", "want the iFC's position")
	}
	p, err := c.api.GetProfile(r.Context(), id)
	if err != nil {
		return "", err
	}
	if i < 0 || i >= len(p.IFCs) {
		return "", badField("index", "no iFC %d (the profile changed meanwhile?)", i)
	}
	p.IFCs = slices.Delete(p.IFCs, i, i+1)
	p.ProfilePush = nil
	if _, err := c.api.UpdateProfile(r.Context(), *p); err != nil {
		return "", err
	}
	return profileURL(id) + "?notice=ifc", nil
}

func (c *Console) deleteProfile(r *http.Request, v *view) (string, error) {
	if err := c.api.DeleteProfile(r.Context(), r.PathValue("id")); err != nil {
		return "", err
	}
	return "/profiles?notice=deleted", nil
}

// triggerText is an iFC's trigger point in one line, for the tables.
func triggerText(tp *provision.TriggerPoint) string {
	if tp == nil || len(tp.SPTs) == 0 {
		return "always"
	}
	groups := map[int32][]string{}
	var order []int32
	for _, s := range tp.SPTs {
		var t string
		switch {
		case s.Method != "":
			t = "method = " + s.Method
			if len(s.RegistrationTypes) > 0 {
				t += " (" + strings.Join(s.RegistrationTypes, ", ") + ")"
			}
		case s.SessionCase != "":
			t = "session case = " + s.SessionCase
		case s.RequestURI != "":
			t = "request URI ~ " + s.RequestURI
		case s.SIPHeader != nil:
			t = "header " + s.SIPHeader.Header + " ~ " + s.SIPHeader.Content
		case s.SessionDescription != nil:
			t = "SDP " + s.SessionDescription.Line + " ~ " + s.SessionDescription.Content
		}
		if s.ConditionNegated {
			t = "NOT " + t
		}
		for _, g := range s.Group {
			if _, ok := groups[g]; !ok {
				order = append(order, g)
			}
			groups[g] = append(groups[g], t)
		}
	}
	inner, outer := " AND ", " OR "
	if tp.ConditionTypeCNF {
		inner, outer = " OR ", " AND "
	}
	var parts []string
	for _, g := range order {
		parts = append(parts, "("+strings.Join(groups[g], inner)+")")
	}
	return fmt.Sprint(strings.Join(parts, outer))
}
