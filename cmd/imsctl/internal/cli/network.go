package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

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
	ctx, cancel, c, err := r.forAPI(ctx)
	if err != nil {
		return err
	}
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
	wait := waitFlag(fs)
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
	op, err := c.StartDeregister(ctx, impi, req)
	if err != nil {
		return err
	}
	return r.operationOutcome(ctx, c, op, *wait, fmt.Sprintf("de-registered %s (RTR %s)", op.IMPI, op.Reason))
}

func profilePush(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("profile push")
	var id identity
	id.bind(fs)
	wait := waitFlag(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	ctx, cancel, c, impi, err := r.forSubscriber(ctx, &id)
	if err != nil {
		return err
	}
	defer cancel()
	op, err := c.StartPushProfile(ctx, impi)
	if err != nil {
		return err
	}
	return r.operationOutcome(ctx, c, op, *wait, fmt.Sprintf("profile pushed for %s (PPR)", op.IMPI))
}

// waitFlag is the --wait of the commands that start an RTR or PPR.
func waitFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("wait", true, "wait for the S-CSCF's answer (at most the HSS's Diameter timeout, and --timeout); "+
		"--wait=false prints the operation to read later (imsctl operation show)")
}

// operationPoll is how often a waiting command reads the operation.
const operationPoll = 100 * time.Millisecond

// operationOutcome prints an operation the API started: at once when not waiting (the command succeeds, the
// procedure is pending), else once it has finished: success prints done, a failure is the command's error.
func (r *run) operationOutcome(ctx context.Context, c *provision.Client, op *provision.Operation, wait bool, done string) error {
	if wait && !op.Done() {
		var err error
		if op, err = c.WaitOperation(ctx, op.ID, operationPoll); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s for %s still pending: operation %s (imsctl operation show --id %s): %w",
					op.Command, op.IMPI, op.ID, op.ID, err)
			}
			return err
		}
	}
	if r.g.json {
		return r.printJSON(op)
	}
	switch op.State {
	case "succeeded":
		fmt.Fprintln(r.env.Stdout, done)
		return nil
	case "failed":
		return fmt.Errorf("%s for %s failed (%s): %s", op.Command, op.IMPI, op.Outcome, op.Error)
	}
	fmt.Fprintf(r.env.Stdout, "%s for %s started: operation %s (imsctl operation show --id %s --wait)\n",
		op.Command, op.IMPI, op.ID, op.ID)
	return nil
}

func operationShow(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("operation show")
	id := fs.String("id", "", "operation id (from deregister --wait=false, profile push --wait=false, or a change's PPRs)")
	wait := fs.Bool("wait", false, "wait until it has finished (bounded by --timeout)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return usageError("--id is required")
	}
	ctx, cancel, c, err := r.forAPI(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	var op *provision.Operation
	if *wait {
		op, err = c.WaitOperation(ctx, *id, operationPoll)
	} else {
		op, err = c.GetOperation(ctx, *id)
	}
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(op)
	}
	printOperations(r.env.Stdout, []provision.Operation{*op})
	if op.Error != "" {
		fmt.Fprintf(r.env.Stdout, "error: %s\n", op.Error)
	}
	return nil
}

func operationList(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("operation list")
	var q provision.OperationQuery
	fs.StringVar(&q.IMPI, "impi", "", "only the operations of this IMPI")
	fs.StringVar(&q.State, "state", "", "only pending, succeeded or failed operations")
	fs.IntVar(&q.Limit, "limit", 0, "at most this many (default: the server's, 100)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	ctx, cancel, c, err := r.forAPI(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	list, err := c.ListOperations(ctx, q)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(list)
	}
	printOperations(r.env.Stdout, list.Operations)
	if list.Truncated {
		fmt.Fprintln(r.env.Stdout, "(more: raise --limit)")
	}
	return nil
}

// printOperations prints operations as a table.
func printOperations(w io.Writer, ops []provision.Operation) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\tCOMMAND\tIMPI\tSTATE\tOUTCOME\tCREATED\tFINISHED\tANSWER\n")
	for _, op := range ops {
		finished, answer := "-", "-"
		if !op.FinishedAt.IsZero() {
			finished = op.FinishedAt.Format(time.RFC3339)
		}
		if a := op.Answer; a != nil {
			answer = fmt.Sprintf("%s %d", a.Peer, a.ResultCode)
			if a.Name != "" {
				answer += " " + a.Name
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", op.ID, op.Command, op.IMPI, op.State, dash(op.Outcome),
			op.CreatedAt.Format(time.RFC3339), finished, answer)
	}
	_ = tw.Flush()
}
