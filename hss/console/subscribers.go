package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/provision"
)

// Subscribers: search, create, edit, keys (write-only), identities and implicit sets, delete. Every change
// is one API call; the API validates it (docs/provisioning.md) and the page shows its error, naming the field.

// searchKinds are the searches of the subscribers page: the API's list filters.
var searchKinds = []string{"imsi", "msisdn", "impu"}

type subscribersData struct {
	By, Q      string
	Kinds      []string
	List       []provision.Subscriber
	NextCursor string
}

// maxPage is the page size of the subscribers list.
const maxPage = 50

func (c *Console) subscribers(r *http.Request, v *view) (string, error) {
	v.Title = "Subscribers"
	q := r.URL.Query()
	d := subscribersData{By: q.Get("by"), Q: strings.TrimSpace(q.Get("q")), Kinds: searchKinds}
	v.Data = &d
	lq := provision.ListQuery{Limit: maxPage, Cursor: q.Get("cursor")}
	switch d.By {
	case "msisdn":
		lq.MSISDNPrefix = d.Q
	case "impu":
		lq.IMPUPrefix = d.Q
	default:
		d.By = "imsi"
		lq.IMSIPrefix = d.Q
	}
	list, err := c.api.ListSubscribers(r.Context(), lq)
	if err != nil {
		return "subscribers", err
	}
	d.List, d.NextCursor = list.Subscribers, list.NextCursor
	return "subscribers", nil
}

type newSubscriberData struct {
	Profiles []provision.Profile
}

func (c *Console) newSubscriber(r *http.Request, v *view) (string, error) {
	v.Title = "New subscriber"
	d := &newSubscriberData{}
	v.Data = d
	var err error
	d.Profiles, err = c.api.ListProfiles(r.Context())
	return "subscriber_new", err
}

// opKey reads the operator key field pair of a form: the kind (op or opc) and the 32 hex digits.
func opKey(r *http.Request) (op, opc string) {
	val := strings.TrimSpace(r.PostFormValue("op"))
	if r.PostFormValue("op_kind") == "opc" {
		return "", val
	}
	return val, ""
}

func (c *Console) createSubscriber(r *http.Request, v *view) (string, error) {
	f := r.PostFormValue
	op, opc := opKey(r)
	req := provision.SubscriberRequest{IMSI: strings.TrimSpace(f("imsi")), MSISDN: strings.TrimSpace(f("msisdn")),
		K: strings.TrimSpace(f("k")), OP: op, OPc: opc, AMF: strings.TrimSpace(f("amf")), StoreOPc: f("store_opc") == "on",
		Password: f("password"), ProfileID: f("profile_id")}
	s, err := c.api.CreateSubscriber(r.Context(), req)
	if err != nil {
		return "", err
	}
	return subscriberURL(s.IMPI) + "?notice=created", nil
}

func subscriberURL(impi string) string { return "/subscribers/" + url.PathEscape(impi) }

type subscriberData struct {
	S          *provision.Subscriber
	Operations []provision.Operation
	Pending    bool
	Profiles   []provision.Profile
	Types      []string
	Reasons    []string
	Registered bool
	// Live is what the S-CSCF and the P-CSCF hold of the registration (nil: not registered).
	Live *liveData
}

// identityTypes are the IMPU types of TS 29.228 Annex B tIdentityType, as the API names them.
var identityTypes = []string{"PUBLIC_USER_IDENTITY", "DISTINCT_PSI", "WILDCARDED_PSI", "WILDCARDED_IMPU"}

// deregReasons are the Deregistration-Reason codes of an RTR (TS 29.229 §6.3.17).
var deregReasons = []string{"PERMANENT_TERMINATION", "NEW_SERVER_ASSIGNED", "SERVER_CHANGE", "REMOVE_S-CSCF"}

func (c *Console) subscriber(r *http.Request, v *view) (string, error) {
	impi := r.PathValue("impi")
	v.Title = impi
	d := &subscriberData{Types: identityTypes, Reasons: deregReasons}
	v.Data = d
	s, err := c.api.GetSubscriber(r.Context(), impi)
	if err != nil {
		return "error", err
	}
	d.S = s
	for _, u := range s.IMPUs {
		if u.Registration.State != "NOT_REGISTERED" && u.Registration.State != "" {
			d.Registered = true
		}
	}
	if d.Registered {
		d.Live = c.liveBindings(r.Context(), s)
	}
	ops, err := c.api.ListOperations(r.Context(), provision.OperationQuery{IMPI: impi, Limit: 10})
	if unavailable(err) {
		ops, err = &provision.OperationList{}, nil
	}
	if err != nil {
		return "subscriber", err
	}
	d.Operations = ops.Operations
	for _, o := range ops.Operations {
		if !o.Done() {
			d.Pending = true
		}
	}
	if v.CanProv {
		if d.Profiles, err = c.api.ListProfiles(r.Context()); err != nil {
			return "subscriber", err
		}
	}
	return "subscriber", nil
}

// list splits a comma- or space-separated form value.
func list(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func (c *Console) editSubscriber(r *http.Request, v *view) (string, error) {
	impi := r.PathValue("impi")
	f := r.PostFormValue
	msisdn, imsi := strings.TrimSpace(f("msisdn")), strings.TrimSpace(f("imsi"))
	avn := list(f("allowed_visited_networks"))
	ch := hss.ChargingInfo{PrimaryCCF: strings.TrimSpace(f("primary_ccf")), SecondaryCCF: strings.TrimSpace(f("secondary_ccf")),
		PrimaryECF: strings.TrimSpace(f("primary_ecf")), SecondaryECF: strings.TrimSpace(f("secondary_ecf"))}
	p := provision.SubscriberPatch{IMSI: &imsi, MSISDN: &msisdn, AllowedVisitedNetworks: &avn, Charging: &ch}
	if pw := f("password"); pw != "" {
		p.Password = &pw
	}
	if _, err := c.api.PatchSubscriber(r.Context(), impi, p); err != nil {
		return "", err
	}
	return subscriberURL(impi) + "?notice=saved", nil
}

func (c *Console) setKeys(r *http.Request, v *view) (string, error) {
	impi := r.PathValue("impi")
	f := r.PostFormValue
	op, opc := opKey(r)
	k := provision.KeysRequest{K: strings.TrimSpace(f("k")), OP: op, OPc: opc, AMF: strings.TrimSpace(f("amf")),
		StoreOPc: f("store_opc") == "on"}
	if s := strings.TrimSpace(f("sqn")); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return "", badField("sqn", "want a decimal number")
		}
		k.SQN = &n
	}
	if _, err := c.api.SetKeys(r.Context(), impi, k); err != nil {
		return "", err
	}
	return subscriberURL(impi) + "?notice=keys", nil
}

func (c *Console) addIMPU(r *http.Request, v *view) (string, error) {
	impi := r.PathValue("impi")
	f := r.PostFormValue
	u := provision.IMPURequest{IMPU: strings.TrimSpace(f("impu")), Type: f("type"), Barred: f("barred") == "on",
		DisplayName: f("display_name"), ImplicitSet: strings.TrimSpace(f("implicit_set")), ProfileID: f("profile_id")}
	if _, err := c.api.AddIMPU(r.Context(), impi, u); err != nil {
		return "", err
	}
	return subscriberURL(impi) + "?notice=impu-added", nil
}

func (c *Console) deleteIMPU(r *http.Request, v *view) (string, error) {
	impi := r.PathValue("impi")
	if _, err := c.api.DeleteIMPU(r.Context(), impi, r.PostFormValue("impu")); err != nil {
		return "", err
	}
	return subscriberURL(impi) + "?notice=impu-deleted", nil
}

func (c *Console) linkIMPU(r *http.Request, v *view) (string, error) {
	impi := r.PathValue("impi")
	if _, err := c.api.LinkIMPU(r.Context(), impi, strings.TrimSpace(r.PostFormValue("impu"))); err != nil {
		return "", err
	}
	return subscriberURL(impi) + "?notice=linked", nil
}

func (c *Console) deleteSubscriber(r *http.Request, v *view) (string, error) {
	impi := r.PathValue("impi")
	if r.PostFormValue("confirm") != impi {
		return "", badField("confirm", "type the IMPI %s to confirm the deletion", impi)
	}
	if _, err := c.api.DeleteSubscriber(r.Context(), impi); err != nil {
		return "", err
	}
	return "/subscribers?notice=deleted", nil
}

// deregister starts a network-initiated de-registration (RTR, TS 29.228 §6.1.3) and returns to the
// subscriber's page, which shows the operation until its outcome is known.
func (c *Console) deregister(r *http.Request, v *view) (string, error) {
	impi := r.PathValue("impi")
	reason, err := provision.ParseReasonCode(r.PostFormValue("reason"))
	if err != nil {
		return "", badField("reason", "%v", err)
	}
	req := provision.DeregisterRequest{Reason: provision.ReasonCode(reason), Info: r.PostFormValue("info")}
	if _, err := c.api.StartDeregister(r.Context(), impi, req); err != nil {
		return "", err
	}
	return subscriberURL(impi) + "?notice=rtr", nil
}

// pushProfile starts a Push-Profile-Request (TS 29.228 §6.2.2) with the subscriber's current profile.
func (c *Console) pushProfile(r *http.Request, v *view) (string, error) {
	impi := r.PathValue("impi")
	if _, err := c.api.StartPushProfile(r.Context(), impi); err != nil {
		return "", err
	}
	return subscriberURL(impi) + "?notice=ppr", nil
}
