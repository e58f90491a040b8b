package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/regstate"
)

// Who is registered where: the HSS's registration state of every identity (registration list), and the
// bindings of one IMPU as the S-CSCF and the P-CSCF hold them (contacts), read from their admin listeners.

// Where imsctl contacts finds the nodes' admin listeners unless --scscf-admin / --pcscf-admin (or these
// variables, comma-separated) say otherwise: make run's S-CSCF and P-CSCF.
const (
	DefaultSCSCFAdmin = "http://127.0.0.1:9103"
	DefaultPCSCFAdmin = "http://127.0.0.1:9101"
	EnvSCSCFAdmin     = "IMSCTL_SCSCF_ADMIN"
	EnvPCSCFAdmin     = "IMSCTL_PCSCF_ADMIN"
)

// scanPage is the subscribers per API call of registration list.
const scanPage = 500

// registrationRow is one identity of registration list.
type registrationRow struct {
	IMPI            string `json:"impi"`
	IMPU            string `json:"impu"`
	ImplicitSet     string `json:"implicit_set"`
	Barred          bool   `json:"barred,omitempty"`
	State           string `json:"state"`
	SCSCFName       string `json:"scscf_name,omitempty"`
	SCSCFOriginHost string `json:"scscf_origin_host,omitempty"`
}

// registrationsDoc is registration list's document.
type registrationsDoc struct {
	Registrations []registrationRow `json:"registrations"`
	// Scanned is the subscribers read.
	Scanned int `json:"scanned"`
}

// registrationFilter selects the rows of registration list.
type registrationFilter struct {
	impu, impi, scscf, state string
}

func (f registrationFilter) match(impi string, u provision.IMPU) bool {
	st := u.Registration.State
	if st == "" {
		st = "NOT_REGISTERED"
	}
	switch f.state {
	case "":
		if st == "NOT_REGISTERED" {
			return false
		}
	case "any":
	default:
		if !strings.EqualFold(st, f.state) {
			return false
		}
	}
	return strings.Contains(u.IMPU, f.impu) && strings.Contains(impi, f.impi) &&
		strings.Contains(u.Registration.SCSCFName, f.scscf)
}

func registrationList(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("registration list")
	var (
		f      registrationFilter
		prefix string
	)
	fs.StringVar(&f.impu, "impu", "", "only identities whose IMPU contains this")
	fs.StringVar(&f.impi, "impi", "", "only subscribers whose IMPI contains this")
	fs.StringVar(&f.scscf, "scscf", "", "only identities whose S-CSCF name contains this")
	fs.StringVar(&f.state, "state", "", "REGISTERED, UNREGISTERED, NOT_REGISTERED or any (default: REGISTERED and UNREGISTERED)")
	fs.StringVar(&prefix, "prefix", "", "only subscribers whose IMSI starts with this (read by the HSS: the fast way to narrow a large store)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	switch strings.ToUpper(f.state) {
	case "", "REGISTERED", "UNREGISTERED", "NOT_REGISTERED":
	case "ANY":
		f.state = "any"
	default:
		return usageError("--state %q: want REGISTERED, UNREGISTERED, NOT_REGISTERED or any", f.state)
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	out := registrationsDoc{Registrations: []registrationRow{}}
	for cursor := ""; ; {
		cctx, cancel := r.callCtx(ctx) // --timeout bounds each page, not the scan
		page, err := c.ListSubscribers(cctx, provision.ListQuery{IMSIPrefix: prefix, Limit: scanPage, Cursor: cursor})
		cancel()
		if err != nil {
			return err
		}
		for _, s := range page.Subscribers {
			out.Scanned++
			for _, u := range s.IMPUs {
				if f.match(s.IMPI, u) {
					out.Registrations = append(out.Registrations, registrationRow{IMPI: s.IMPI, IMPU: u.IMPU,
						ImplicitSet: u.ImplicitSet, Barred: u.Barred, State: dash(u.Registration.State),
						SCSCFName: u.Registration.SCSCFName, SCSCFOriginHost: u.Registration.SCSCFOriginHost})
				}
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if r.g.json {
		return r.printJSON(out)
	}
	tw := tabwriter.NewWriter(r.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "IMPI\tIMPU\tSTATE\tS-CSCF\tBARRED\n")
	for _, row := range out.Registrations {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", row.IMPI, row.IMPU, row.State, dash(row.SCSCFName), yesNo(row.Barred))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(r.env.Stdout, "%d identities of %d subscribers\n", len(out.Registrations), out.Scanned)
	return nil
}

// contactsReport is imsctl contacts' document.
type contactsReport struct {
	IMPU      string `json:"impu"`
	IMPI      string `json:"impi"`
	State     string `json:"state"`
	SCSCFName string `json:"scscf_name,omitempty"`
	// SCSCF is the registration as the S-CSCF holds it (nil: no S-CSCF asked has it).
	SCSCF *scscfView `json:"scscf,omitempty"`
	// PCSCFs are the bindings of each P-CSCF that has some.
	PCSCFs []pcscfView `json:"pcscfs,omitempty"`
	// Errors are the nodes that could not be read.
	Errors []string `json:"errors,omitempty"`
}

type scscfView struct {
	URL          string                `json:"url"`
	Registration regstate.Registration `json:"registration"`
}

type pcscfView struct {
	URL      string             `json:"url"`
	Bindings []regstate.Binding `json:"bindings"`
}

func contacts(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("contacts")
	var impu string
	scscfs, pcscfs := r.adminURLs(EnvSCSCFAdmin, DefaultSCSCFAdmin), r.adminURLs(EnvPCSCFAdmin, DefaultPCSCFAdmin)
	fs.StringVar(&impu, "impu", "", "public identity (any of its implicit set)")
	fs.Var(&scscfs, "scscf-admin", "admin URL of an S-CSCF, repeatable (env "+EnvSCSCFAdmin+", comma-separated; default "+DefaultSCSCFAdmin+")")
	fs.Var(&pcscfs, "pcscf-admin", "admin URL of a P-CSCF, repeatable (env "+EnvPCSCFAdmin+", comma-separated; default "+DefaultPCSCFAdmin+")")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if impu == "" {
		return usageError("--impu is required")
	}
	ctx, cancel, c, err := r.forAPI(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	list, err := c.ListSubscribers(ctx, provision.ListQuery{IMPU: impu, Limit: 2})
	if err != nil {
		return err
	}
	if len(list.Subscribers) == 0 {
		return fmt.Errorf("no subscriber has the identity %s", impu)
	}
	rep := contactsReport{IMPU: impu, IMPI: list.Subscribers[0].IMPI, State: "NOT_REGISTERED"}
	for _, u := range list.Subscribers[0].IMPUs {
		if u.IMPU == impu && u.Registration.State != "" {
			rep.State, rep.SCSCFName = u.Registration.State, u.Registration.SCSCFName
		}
	}
	if rep.State == "REGISTERED" {
		if err := r.readNodes(ctx, &rep, scscfs.urls(), pcscfs.urls()); err != nil {
			return err
		}
	}
	if r.g.json {
		if err := r.printJSON(rep); err != nil {
			return err
		}
	} else {
		printContacts(r.env.Stdout, &rep, time.Now())
	}
	if len(rep.Errors) > 0 {
		return fmt.Errorf("%d admin listeners could not be read: %s", len(rep.Errors), strings.Join(rep.Errors, "; "))
	}
	return nil
}

// readNodes asks the S-CSCFs for the registration of rep.IMPU, then the P-CSCFs for the bindings of the IMPU
// the UE registered (the registration's key, which the P-CSCF keys its bindings by).
func (r *run) readNodes(ctx context.Context, rep *contactsReport, scscfs, pcscfs []string) error {
	hc, err := r.httpClient()
	if err != nil {
		return err
	}
	token, err := r.token()
	if err != nil {
		return err
	}
	rc := &regstate.Client{HTTP: hc, Token: token}
	for _, u := range scscfs {
		regs, err := rc.SCSCF(ctx, u, rep.IMPU, "")
		if err != nil {
			rep.Errors = append(rep.Errors, "S-CSCF "+nodeError(err))
			continue
		}
		if len(regs) > 0 {
			rep.SCSCF = &scscfView{URL: u, Registration: regs[0]}
			break
		}
	}
	key := rep.IMPU
	if rep.SCSCF != nil {
		key = rep.SCSCF.Registration.IMPU
	}
	for _, u := range pcscfs {
		bs, err := rc.PCSCF(ctx, u, key)
		if err != nil {
			rep.Errors = append(rep.Errors, "P-CSCF "+nodeError(err))
			continue
		}
		if len(bs) > 0 {
			rep.PCSCFs = append(rep.PCSCFs, pcscfView{URL: u, Bindings: bs})
		}
	}
	return nil
}

// nodeError says why a node could not be read, with what to do about a refused token.
func nodeError(err error) string {
	var se *regstate.StatusError
	if errors.As(err, &se) && (se.Status == 401 || se.Status == 403) {
		return err.Error() + " (the node's admin.tokens_file must hold imsctl's token, with the read scope)"
	}
	return err.Error()
}

// printContacts writes rep as text.
func printContacts(w io.Writer, rep *contactsReport, now time.Time) {
	fmt.Fprintf(w, "IMPU %s (IMPI %s): %s", rep.IMPU, rep.IMPI, rep.State)
	if rep.SCSCFName != "" {
		fmt.Fprintf(w, " at %s", rep.SCSCFName)
	}
	fmt.Fprintln(w)
	if rep.State != "REGISTERED" {
		return
	}
	if rep.SCSCF == nil {
		fmt.Fprintln(w, "no S-CSCF asked holds the registration")
	} else {
		reg := rep.SCSCF.Registration
		fmt.Fprintf(w, "\nS-CSCF %s: registration of %s, implicit set %s\n", rep.SCSCF.URL, reg.IMPU, identityList(reg.Identities))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "CONTACT\tINSTANCE\tREG-ID\tEXPIRES IN\tPATH\n")
		for _, c := range reg.Contacts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.URI, dash(c.Instance), dash(c.RegID), expiresIn(c.Expires, now),
				dash(strings.Join(c.Path, ", ")))
		}
		_ = tw.Flush()
	}
	if len(rep.PCSCFs) == 0 {
		fmt.Fprintln(w, "\nno P-CSCF asked has a binding")
	}
	for _, p := range rep.PCSCFs {
		fmt.Fprintf(w, "\nP-CSCF %s:\n", p.URL)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "CONTACT ID\tUE ADDRESS\tTRANSPORT\tCONTACT\tEXPIRES IN\tSA SETS\n")
		for _, b := range p.Bindings {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", b.ContactID, dash(b.Source), b.Transport, dash(b.Contact),
				expiresIn(b.Expires, now), saSummary(b.SAs, now))
		}
		_ = tw.Flush()
	}
}

func identityList(ids []regstate.Identity) string {
	var parts []string
	for _, id := range ids {
		s := id.URI
		if id.Barred {
			s += " (barred)"
		}
		parts = append(parts, s)
	}
	return dash(strings.Join(parts, ", "))
}

// saSummary is the SA sets of a binding on one line: the UE's and the P-CSCF's protected ports and SPIs
// (port-c/port-s, spi-c/spi-s, RFC 3329 §2.3) and the algorithms.
func saSummary(sas []regstate.SASet, now time.Time) string {
	if len(sas) == 0 {
		return "none (no sec-agree)"
	}
	var parts []string
	for _, sa := range sas {
		s := fmt.Sprintf("UE %s ports %d/%d spi %d/%d, P-CSCF ports %d/%d spi %d/%d, %s/%s %s, expires in %s",
			sa.UE.Addr, sa.UE.PortC, sa.UE.PortS, sa.UE.SPIC, sa.UE.SPIS, sa.PCSCF.PortC, sa.PCSCF.PortS, sa.PCSCF.SPIC,
			sa.PCSCF.SPIS, sa.Integrity, sa.Encryption, sa.Proto, expiresIn(sa.Expires, now))
		if !sa.Confirmed {
			s += " (not confirmed yet)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func expiresIn(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now).Round(time.Second)
	if d <= 0 {
		return "expired"
	}
	return d.String()
}

// urlList is a repeatable URL flag whose default (from the environment or the built-in) the first use replaces.
type urlList struct {
	vals []string
	set  bool
}

func (l *urlList) String() string { return strings.Join(l.vals, ",") }
func (l *urlList) Set(v string) error {
	if !l.set {
		l.vals, l.set = nil, true
	}
	l.vals = append(l.vals, splitList(v)...)
	return nil
}
func (l *urlList) urls() []string { return l.vals }

// adminURLs is the default of an admin URL flag: env's comma-separated list, else def.
func (r *run) adminURLs(env, def string) urlList {
	if v := splitList(r.env.Getenv(env)); len(v) > 0 {
		return urlList{vals: v}
	}
	return urlList{vals: []string{def}}
}
