package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/imscore/imscore/hss/provision"
)

// keyFlags are the AKA key options of add and set-keys.
type keyFlags struct {
	k, op, opc, amf string
	storeOPc        bool
	sqn             string
}

func (kf *keyFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&kf.k, "k", "", "subscriber key K, 32 hex digits")
	fs.StringVar(&kf.op, "op", "", "operator variant OP, 32 hex digits")
	fs.StringVar(&kf.opc, "opc", "", "OPc, 32 hex digits (instead of --op)")
	fs.StringVar(&kf.amf, "amf", "", "AMF, 4 hex digits (default 8000 on add, unchanged on set-keys)")
	fs.BoolVar(&kf.storeOPc, "store-opc", false, "derive OPc from K and OP and store only OPc")
	fs.StringVar(&kf.sqn, "sqn", "", "sequence number to start from (set-keys: reset to it)")
}

func (kf *keyFlags) parseSQN() (*uint64, error) {
	if kf.sqn == "" {
		return nil, nil
	}
	v, err := strconv.ParseUint(kf.sqn, 10, 64)
	if err != nil {
		return nil, usageError("--sqn %q: want a non-negative integer", kf.sqn)
	}
	return &v, nil
}

func subscriberAdd(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("subscriber add")
	var (
		req provision.SubscriberRequest
		kf  keyFlags
	)
	fs.StringVar(&req.IMSI, "imsi", "", "IMSI (6 to 15 digits)")
	fs.StringVar(&req.MSISDN, "msisdn", "", "MSISDN (E.164 digits)")
	fs.StringVar(&req.IMPI, "impi", "", "IMPI (default IMSI@domain)")
	fs.StringVar(&req.Password, "password", "", "SIP Digest password (also allows SIP Digest)")
	fs.StringVar(&req.ProfileID, "profile", "", "service profile (default \"default\")")
	kf.bind(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	sqn, err := kf.parseSQN()
	if err != nil {
		return err
	}
	req.K, req.OP, req.OPc, req.AMF, req.StoreOPc, req.SQN = kf.k, kf.op, kf.opc, kf.amf, kf.storeOPc, sqn
	c, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.callCtx(ctx)
	defer cancel()
	sub, err := c.CreateSubscriber(ctx, req)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(sub)
	}
	printIdentities(r.env.Stdout, sub)
	return nil
}

// printIdentities prints the IMPI and one line per IMPU, the barred ones marked.
func printIdentities(w io.Writer, sub *provision.Subscriber) {
	fmt.Fprintf(w, "IMPI %s\n", sub.IMPI)
	for _, u := range sub.IMPUs {
		mark := ""
		if u.Barred {
			mark = " (barred)"
		}
		fmt.Fprintf(w, "IMPU %s%s\n", u.IMPU, mark)
	}
}

func subscriberShow(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("subscriber show")
	var id identity
	id.bind(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	ctx, cancel, c, impi, err := r.forSubscriber(ctx, &id)
	if err != nil {
		return err
	}
	defer cancel()
	sub, err := c.GetSubscriber(ctx, impi)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(sub)
	}
	tw := tabwriter.NewWriter(r.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "IMPI\t%s\n", sub.IMPI)
	fmt.Fprintf(tw, "IMSI\t%s\n", dash(sub.IMSI))
	fmt.Fprintf(tw, "MSISDN\t%s\n", dash(sub.MSISDN))
	fmt.Fprintf(tw, "Keys\t%s\n", keySummary(sub))
	fmt.Fprintf(tw, "Schemes\t%s\n", dash(strings.Join(sub.Schemes, ", ")))
	fmt.Fprintf(tw, "Visited networks\t%s\n", dash(strings.Join(sub.AllowedVisitedNetworks, ", ")))
	if sub.Charging != nil {
		fmt.Fprintf(tw, "Charging\tCCF %s %s, ECF %s %s\n", dash(sub.Charging.PrimaryCCF), dash(sub.Charging.SecondaryCCF),
			dash(sub.Charging.PrimaryECF), dash(sub.Charging.SecondaryECF))
	}
	fmt.Fprintf(tw, "Created\t%s\n", sub.CreatedAt.Format("2006-01-02 15:04:05Z07:00"))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(r.env.Stdout)
	tw = tabwriter.NewWriter(r.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "IMPU\tTYPE\tBARRED\tPROFILE\tIMPLICIT SET\tSTATE\tS-CSCF\n")
	for _, u := range sub.IMPUs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.IMPU, u.Type, yesNo(u.Barred), u.ProfileID, u.ImplicitSet,
			u.Registration.State, dash(u.Registration.SCSCFName))
	}
	return tw.Flush()
}

// keySummary says which keys are set, never what they are.
func keySummary(s *provision.Subscriber) string {
	var parts []string
	if s.HasK {
		parts = append(parts, "K set")
	}
	switch {
	case s.HasOP:
		parts = append(parts, "OP set")
	case s.HasOPc:
		parts = append(parts, "OPc set")
	}
	parts = append(parts, "AMF "+s.AMF, fmt.Sprintf("SQN %d", s.SQN))
	if s.HasPassword {
		parts = append(parts, "password set")
	}
	if s.HasHA1 {
		parts = append(parts, "HA1 set")
	}
	return strings.Join(parts, ", ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func subscriberDelete(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("subscriber delete")
	var id identity
	id.bind(fs)
	force := fs.Bool("force", false, "delete even when registered and the S-CSCF does not confirm the de-registration (it then keeps the registration until it expires)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	ctx, cancel, c, impi, err := r.forSubscriber(ctx, &id)
	if err != nil {
		return err
	}
	defer cancel()
	del := c.DeleteSubscriber
	if *force {
		del = c.ForceDeleteSubscriber
	}
	res, err := del(ctx, impi)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(res)
	}
	if res.Deregistered {
		fmt.Fprintf(r.env.Stdout, "de-registered %s (RTR PERMANENT_TERMINATION)\n", res.IMPI)
	}
	if res.DeregisterError != "" {
		fmt.Fprintf(r.env.Stderr, "warning: %s was registered and the RTR failed: %s\n", res.IMPI, res.DeregisterError)
	}
	if res.Warning != "" {
		fmt.Fprintf(r.env.Stderr, "warning: %s\n", res.Warning)
	}
	fmt.Fprintf(r.env.Stdout, "deleted %s\n", res.IMPI)
	return nil
}

func subscriberList(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("subscriber list")
	var (
		q   provision.ListQuery
		all bool
	)
	fs.StringVar(&q.IMSIPrefix, "prefix", "", "IMSI prefix")
	fs.StringVar(&q.IMSI, "imsi", "", "exact IMSI")
	fs.StringVar(&q.MSISDN, "msisdn", "", "exact MSISDN")
	fs.StringVar(&q.MSISDNPrefix, "msisdn-prefix", "", "MSISDN prefix")
	fs.StringVar(&q.IMPU, "impu", "", "exact public identity")
	fs.StringVar(&q.IMPUPrefix, "impu-prefix", "", "public identity prefix")
	fs.IntVar(&q.Limit, "limit", 0, "page size (default 100, at most 1000)")
	fs.StringVar(&q.Cursor, "cursor", "", "continue after this cursor (from a previous page)")
	fs.BoolVar(&all, "all", false, "follow the pages to the end")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	var (
		subs []provision.Subscriber
		next string
	)
	for {
		cctx, cancel := r.callCtx(ctx)
		page, err := c.ListSubscribers(cctx, q)
		cancel()
		if err != nil {
			return err
		}
		subs = append(subs, page.Subscribers...)
		next = page.NextCursor
		if !all || next == "" {
			break
		}
		q.Cursor = next
	}
	if r.g.json {
		return r.printJSON(provision.SubscriberList{Subscribers: subs, NextCursor: next})
	}
	tw := tabwriter.NewWriter(r.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "IMPI\tIMSI\tMSISDN\tIMPUS\tREGISTERED\n")
	for i := range subs {
		s := &subs[i]
		reg := 0
		for _, u := range s.IMPUs {
			if u.Registration.State == "REGISTERED" {
				reg++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", s.IMPI, dash(s.IMSI), dash(s.MSISDN), len(s.IMPUs), reg)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintf(r.env.Stdout, "more: --cursor %s\n", next)
	}
	return nil
}

func subscriberSetKeys(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("subscriber set-keys")
	var (
		id identity
		kf keyFlags
	)
	id.bind(fs)
	kf.bind(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	sqn, err := kf.parseSQN()
	if err != nil {
		return err
	}
	ctx, cancel, c, impi, err := r.forSubscriber(ctx, &id)
	if err != nil {
		return err
	}
	defer cancel()
	sub, err := c.SetKeys(ctx, impi, provision.KeysRequest{K: kf.k, OP: kf.op, OPc: kf.opc, AMF: kf.amf,
		StoreOPc: kf.storeOPc, SQN: sqn})
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(sub)
	}
	fmt.Fprintf(r.env.Stdout, "keys replaced for %s: %s\n", sub.IMPI, keySummary(sub))
	return nil
}

func subscriberUpdate(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("subscriber update")
	var (
		id                        identity
		msisdn, password, schemes optionalString
	)
	id.bind(fs)
	fs.Var(&msisdn, "msisdn", "new MSISDN (\"\" removes it)")
	fs.Var(&password, "password", "new SIP Digest password")
	fs.Var(&schemes, "schemes", "allowed schemes, comma-separated: AKAv1-MD5,AKAv2-MD5,SIP-Digest")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	var p provision.SubscriberPatch
	p.MSISDN, p.Password = msisdn.ptr(), password.ptr()
	if schemes.set {
		list := splitList(schemes.v)
		if list == nil {
			list = []string{}
		}
		p.Schemes = &list
	}
	if p == (provision.SubscriberPatch{}) {
		return usageError("nothing to change")
	}
	ctx, cancel, c, impi, err := r.forSubscriber(ctx, &id)
	if err != nil {
		return err
	}
	defer cancel()
	sub, err := c.PatchSubscriber(ctx, impi, p)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(sub)
	}
	fmt.Fprintf(r.env.Stdout, "updated %s\n", sub.IMPI)
	printPush(r.env.Stdout, sub.ProfilePush)
	return nil
}

// optionalString is a flag that records whether it was given, to tell "absent" from "empty".
type optionalString struct {
	v   string
	set bool
}

func (o *optionalString) String() string     { return o.v }
func (o *optionalString) Set(v string) error { o.v, o.set = v, true; return nil }
func (o *optionalString) ptr() *string {
	if !o.set {
		return nil
	}
	v := o.v
	return &v
}

// printPush reports the PPRs a change caused.
func printPush(w io.Writer, p *provision.PushReport) {
	if p == nil {
		return
	}
	for _, impi := range p.Pushed {
		fmt.Fprintf(w, "profile pushed to the S-CSCF of %s (PPR)\n", impi)
	}
	for _, op := range p.Operations {
		if !op.Done() {
			fmt.Fprintf(w, "PPR for %s started: operation %s (imsctl operation show --id %s --wait)\n", op.IMPI, op.ID, op.ID)
		}
	}
	for _, f := range p.Failed {
		fmt.Fprintf(w, "warning: PPR for %s failed: %s\n", f.IMPI, f.Error)
	}
	if p.Skipped != "" {
		fmt.Fprintf(w, "warning: PPR not sent: %s\n", p.Skipped)
	}
}

func subscriberImport(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("subscriber import")
	batch := fs.Int("batch", 0, "subscribers per store transaction (default: the server's, 5000)")
	timeoutSet := false
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "timeout" {
			timeoutSet = true
		}
	})
	if len(pos) != 1 {
		return usageError("want one FILE (or - for stdin)")
	}
	in, err := r.openInput(pos[0])
	if err != nil {
		return err
	}
	defer in.Close()
	c, err := r.client()
	if err != nil {
		return err
	}
	if timeoutSet { // a million subscribers take minutes: no limit unless asked for
		var cancel context.CancelFunc
		ctx, cancel = r.callCtx(ctx)
		defer cancel()
	}
	sent := newImportProgress(r.env.Stderr, in)
	res, err := c.Import(ctx, sent, *batch)
	sent.finish(res)
	if res != nil && (res.Lines > 0 || res.Imported > 0 || res.Failed > 0) {
		if r.g.json {
			if jerr := r.printJSON(res); jerr != nil {
				return jerr
			}
		} else {
			fmt.Fprintf(r.env.Stdout, "imported %d subscribers from %d lines, %d failed\n", res.Imported, res.Lines, res.Failed)
			for _, e := range res.Errors {
				fmt.Fprintf(r.env.Stderr, "line %d: %s\n", e.Line, e.Error)
			}
			if res.ErrorsTruncated {
				fmt.Fprintf(r.env.Stderr, "(only the first %d failed lines are listed)\n", len(res.Errors))
			}
		}
	}
	if err != nil {
		return err
	}
	if res.Failed > 0 {
		return fmt.Errorf("%d of %d lines not imported", res.Failed, res.Lines)
	}
	if res.Imported == 0 {
		return fmt.Errorf("nothing imported: the input (%s) holds no subscriber (%d lines)", pos[0], res.Lines)
	}
	return nil
}
