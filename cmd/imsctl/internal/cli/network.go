package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/imscore/imscore/hss/provision"
)

// Public identities, registration state and the network-initiated procedures (RTR, PPR).

// impuFlags are the options of impu add and impu update.
type impuFlags struct {
	id  identity
	req provision.IMPURequest
}

func (r *run) impuCommand(name string, args []string, attrs bool) (*impuFlags, error) {
	fs := r.flagSet(name)
	f := &impuFlags{}
	f.id.bind(fs)
	fs.StringVar(&f.req.IMPU, "impu", "", "public identity (sip:, sips: or tel: URI)")
	if attrs {
		fs.BoolVar(&f.req.Barred, "barred", false, "barred: usable for registration only")
		fs.StringVar(&f.req.DisplayName, "display-name", "", "display name")
		fs.StringVar(&f.req.ProfileID, "profile", "", "service profile (add: default \"default\"; update: unchanged)")
		fs.StringVar(&f.req.Type, "type", "", "PUBLIC_USER_IDENTITY (default), DISTINCT_PSI, WILDCARDED_PSI, WILDCARDED_IMPU")
		fs.StringVar(&f.req.ImplicitSet, "implicit-set", "", "implicit registration set (default: the subscriber's)")
	}
	if err := parseNoArgs(fs, args); err != nil {
		return nil, err
	}
	if f.req.IMPU == "" {
		return nil, usageError("--impu is required")
	}
	return f, nil
}

// impuRun resolves the subscriber, calls fn and prints the subscriber's identities afterwards.
func (r *run) impuRun(ctx context.Context, f *impuFlags, verb string,
	fn func(context.Context, *provision.Client, string) (*provision.Subscriber, error)) error {
	c, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.callCtx(ctx)
	defer cancel()
	impi, err := f.id.resolve(ctx, c)
	if err != nil {
		return err
	}
	sub, err := fn(ctx, c, impi)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(sub)
	}
	fmt.Fprintf(r.env.Stdout, "%s %s\n", verb, f.req.IMPU)
	printIdentities(r.env.Stdout, sub)
	printPush(r.env.Stdout, sub.ProfilePush)
	return nil
}

func impuAdd(ctx context.Context, r *run, args []string) error {
	f, err := r.impuCommand("impu add", args, true)
	if err != nil {
		return err
	}
	return r.impuRun(ctx, f, "added", func(ctx context.Context, c *provision.Client, impi string) (*provision.Subscriber, error) {
		return c.AddIMPU(ctx, impi, f.req)
	})
}

func impuUpdate(ctx context.Context, r *run, args []string) error {
	f, err := r.impuCommand("impu update", args, true)
	if err != nil {
		return err
	}
	return r.impuRun(ctx, f, "updated", func(ctx context.Context, c *provision.Client, impi string) (*provision.Subscriber, error) {
		return c.UpdateIMPU(ctx, impi, f.req.IMPU, f.req)
	})
}

func impuDelete(ctx context.Context, r *run, args []string) error {
	f, err := r.impuCommand("impu delete", args, false)
	if err != nil {
		return err
	}
	return r.impuRun(ctx, f, "deleted", func(ctx context.Context, c *provision.Client, impi string) (*provision.Subscriber, error) {
		return c.DeleteIMPU(ctx, impi, f.req.IMPU)
	})
}

func impuLink(ctx context.Context, r *run, args []string) error {
	f, err := r.impuCommand("impu link", args, false)
	if err != nil {
		return err
	}
	return r.impuRun(ctx, f, "linked", func(ctx context.Context, c *provision.Client, impi string) (*provision.Subscriber, error) {
		return c.LinkIMPU(ctx, impi, f.req.IMPU)
	})
}

func impuUnlink(ctx context.Context, r *run, args []string) error {
	f, err := r.impuCommand("impu unlink", args, false)
	if err != nil {
		return err
	}
	return r.impuRun(ctx, f, "unlinked", func(ctx context.Context, c *provision.Client, impi string) (*provision.Subscriber, error) {
		return c.UnlinkIMPU(ctx, impi, f.req.IMPU)
	})
}

func registrationShow(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("registration show")
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
	st, err := c.Registration(ctx, impi)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(st)
	}
	fmt.Fprintf(r.env.Stdout, "IMPI %s: %s\n", st.IMPI, map[bool]string{true: "registered", false: "not registered"}[st.Registered])
	tw := tabwriter.NewWriter(r.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "IMPU\tSTATE\tS-CSCF\tORIGIN-HOST\tBY THIS IMPI\n")
	for _, u := range st.IMPUs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.IMPU, u.State, dash(u.SCSCFName), dash(u.SCSCFOriginHost),
			yesNo(u.RegisteredByIMPI))
	}
	return tw.Flush()
}

func deregister(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("deregister")
	var (
		id     identity
		reason string
		req    provision.DeregisterRequest
		impus  stringList
	)
	id.bind(fs)
	fs.StringVar(&reason, "reason", "PERMANENT_TERMINATION",
		"Reason-Code: PERMANENT_TERMINATION, NEW_SERVER_ASSIGNED, SERVER_CHANGE, REMOVE_S-CSCF or 0-3")
	fs.StringVar(&req.Info, "info", "", "Reason-Info text for the user")
	fs.Var(&impus, "impu", "public identity to de-register (repeatable; default all)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	code, err := provision.ParseReasonCode(reason)
	if err != nil {
		return usageError("--reason: %v", err)
	}
	req.Reason, req.IMPUs = provision.ReasonCode(code), impus
	ctx, cancel, c, impi, err := r.forSubscriber(ctx, &id)
	if err != nil {
		return err
	}
	defer cancel()
	res, err := c.Deregister(ctx, impi, req)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(res)
	}
	fmt.Fprintf(r.env.Stdout, "de-registered %s (RTR %s)\n", res.IMPI, res.Reason)
	return nil
}

func profilePush(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("profile push")
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
	res, err := c.PushProfile(ctx, impi)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(res)
	}
	fmt.Fprintf(r.env.Stdout, "profile pushed for %s (PPR)\n", res.IMPI)
	return nil
}
