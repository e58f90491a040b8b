package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/provision"
)

// Service profiles and shared iFC sets are written as the API's JSON (docs/provisioning.md) in a file;
// S-CSCFs and charging addresses take flags.

// readJSONFile decodes the JSON document in file (or stdin for "-") into v, refusing unknown members.
func (r *run) readJSONFile(file string, v any) error {
	if file == "" {
		return usageError("--file is required")
	}
	in, err := r.openInput(file)
	if err != nil {
		return err
	}
	defer in.Close()
	data, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

func printProfile(w io.Writer, p *provision.Profile) error {
	fmt.Fprintf(w, "profile %s", p.ID)
	if p.SubscribedMediaProfileID != nil {
		fmt.Fprintf(w, " (media profile %d)", *p.SubscribedMediaProfileID)
	}
	if len(p.SharedIFCSetIDs) > 0 {
		fmt.Fprintf(w, " shared iFC sets %v", p.SharedIFCSetIDs)
	}
	fmt.Fprintln(w)
	return printIFCs(w, p.IFCs)
}

func printIFCs(w io.Writer, ifcs []provision.IFC) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "PRIORITY\tAPPLICATION SERVER\tDEFAULT HANDLING\tTRIGGERS\tPART\n")
	for _, f := range ifcs {
		triggers := "-"
		if f.TriggerPoint != nil {
			triggers = fmt.Sprintf("%d SPTs (%s)", len(f.TriggerPoint.SPTs),
				map[bool]string{true: "CNF", false: "DNF"}[f.TriggerPoint.ConditionTypeCNF])
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", f.Priority, f.ApplicationServer.ServerName,
			f.ApplicationServer.DefaultHandling, triggers, dash(f.ProfilePartIndicator))
	}
	return tw.Flush()
}

func profileList(ctx context.Context, r *run, args []string) error {
	if err := parseNoArgs(r.flagSet("profile list"), args); err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.callCtx(ctx)
	defer cancel()
	ps, err := c.ListProfiles(ctx)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(ps)
	}
	tw := tabwriter.NewWriter(r.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\tIFCS\tSHARED IFC SETS\n")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%d\t%v\n", p.ID, len(p.IFCs), p.SharedIFCSetIDs)
	}
	return tw.Flush()
}

func profileShow(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("profile show")
	id := fs.String("id", "", "profile id")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return usageError("--id is required")
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.callCtx(ctx)
	defer cancel()
	p, err := c.GetProfile(ctx, *id)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(p)
	}
	return printProfile(r.env.Stdout, p)
}

func (r *run) profileWrite(ctx context.Context, name string, args []string,
	fn func(*provision.Client, context.Context, provision.Profile) (*provision.Profile, error)) error {
	fs := r.flagSet(name)
	file := fs.String("file", "", "profile JSON (- for stdin)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	var p provision.Profile
	if err := r.readJSONFile(*file, &p); err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.callCtx(ctx)
	defer cancel()
	got, err := fn(c, ctx, p)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(got)
	}
	if err := printProfile(r.env.Stdout, got); err != nil {
		return err
	}
	printPush(r.env.Stdout, got.ProfilePush)
	return nil
}

func profileCreate(ctx context.Context, r *run, args []string) error {
	return r.profileWrite(ctx, "profile create", args, (*provision.Client).CreateProfile)
}

func profileUpdate(ctx context.Context, r *run, args []string) error {
	return r.profileWrite(ctx, "profile update", args, (*provision.Client).UpdateProfile)
}

func profileDelete(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("profile delete")
	id := fs.String("id", "", "profile id")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return usageError("--id is required")
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.callCtx(ctx)
	defer cancel()
	if err := c.DeleteProfile(ctx, *id); err != nil {
		return err
	}
	if !r.g.json {
		fmt.Fprintf(r.env.Stdout, "deleted profile %s\n", *id)
	}
	return nil
}

// ---- shared iFC sets ----------------------------------------------------------------------------------

func ifcList(ctx context.Context, r *run, args []string) error {
	if err := parseNoArgs(r.flagSet("ifc list"), args); err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.callCtx(ctx)
	defer cancel()
	sets, err := c.ListIFCSets(ctx)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(sets)
	}
	tw := tabwriter.NewWriter(r.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\tIFCS\n")
	for _, s := range sets {
		fmt.Fprintf(tw, "%d\t%d\n", s.ID, len(s.IFCs))
	}
	return tw.Flush()
}

func setIDFlag(v string) (int32, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, usageError("--id %q: want a number", v)
	}
	return int32(n), nil
}

func ifcShow(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("ifc show")
	idFlag := fs.String("id", "", "shared iFC set id")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	id, err := setIDFlag(*idFlag)
	if err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.callCtx(ctx)
	defer cancel()
	s, err := c.GetIFCSet(ctx, id)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(s)
	}
	fmt.Fprintf(r.env.Stdout, "shared iFC set %d\n", s.ID)
	return printIFCs(r.env.Stdout, s.IFCs)
}

func (r *run) ifcWrite(ctx context.Context, name string, args []string,
	fn func(*provision.Client, context.Context, provision.IFCSet) (*provision.IFCSet, error)) error {
	fs := r.flagSet(name)
	file := fs.String("file", "", "shared iFC set JSON (- for stdin)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	var s provision.IFCSet
	if err := r.readJSONFile(*file, &s); err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.callCtx(ctx)
	defer cancel()
	got, err := fn(c, ctx, s)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(got)
	}
	fmt.Fprintf(r.env.Stdout, "shared iFC set %d\n", got.ID)
	if err := printIFCs(r.env.Stdout, got.IFCs); err != nil {
		return err
	}
	printPush(r.env.Stdout, got.ProfilePush)
	return nil
}

func ifcCreate(ctx context.Context, r *run, args []string) error {
	return r.ifcWrite(ctx, "ifc create", args, (*provision.Client).CreateIFCSet)
}

func ifcUpdate(ctx context.Context, r *run, args []string) error {
	return r.ifcWrite(ctx, "ifc update", args, (*provision.Client).UpdateIFCSet)
}

func ifcDelete(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("ifc delete")
	idFlag := fs.String("id", "", "shared iFC set id")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	id, err := setIDFlag(*idFlag)
	if err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.callCtx(ctx)
	defer cancel()
	if err := c.DeleteIFCSet(ctx, id); err != nil {
		return err
	}
	if !r.g.json {
		fmt.Fprintf(r.env.Stdout, "deleted shared iFC set %d\n", id)
	}
	return nil
}

// ---- S-CSCFs and charging -----------------------------------------------------------------------------

func parseUint32List(flagName, v string) ([]uint32, error) {
	var out []uint32
	for _, s := range splitList(v) {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, usageError("--%s %q: want comma-separated numbers", flagName, v)
		}
		out = append(out, uint32(n))
	}
	return out, nil
}

func joinUint32s(v []uint32) string {
	var parts []string
	for _, n := range v {
		parts = append(parts, strconv.FormatUint(uint64(n), 10))
	}
	return dash(strings.Join(parts, ","))
}

func scscfList(ctx context.Context, r *run, args []string) error {
	if err := parseNoArgs(r.flagSet("scscf list"), args); err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.callCtx(ctx)
	defer cancel()
	list, err := c.ListSCSCFs(ctx)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(list)
	}
	tw := tabwriter.NewWriter(r.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "NAME\tMANDATORY\tOPTIONAL\n")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, joinUint32s(s.Capabilities.Mandatory), joinUint32s(s.Capabilities.Optional))
	}
	return tw.Flush()
}

func scscfAdd(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("scscf add")
	name := fs.String("name", "", "Server-Name, a SIP URI (sip:scscf.example:6060)")
	mandatory := fs.String("mandatory", "", "mandatory capabilities, comma-separated")
	optional := fs.String("optional", "", "optional capabilities, comma-separated")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usageError("--name is required")
	}
	var s provision.SCSCF
	s.Name = *name
	var err error
	if s.Capabilities.Mandatory, err = parseUint32List("mandatory", *mandatory); err != nil {
		return err
	}
	if s.Capabilities.Optional, err = parseUint32List("optional", *optional); err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.callCtx(ctx)
	defer cancel()
	got, err := c.PutSCSCF(ctx, s)
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(got)
	}
	fmt.Fprintf(r.env.Stdout, "s-cscf %s: mandatory %s, optional %s\n", got.Name,
		joinUint32s(got.Capabilities.Mandatory), joinUint32s(got.Capabilities.Optional))
	return nil
}

func scscfDelete(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("scscf delete")
	name := fs.String("name", "", "Server-Name")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usageError("--name is required")
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.callCtx(ctx)
	defer cancel()
	if err := c.DeleteSCSCF(ctx, *name); err != nil {
		return err
	}
	if !r.g.json {
		fmt.Fprintf(r.env.Stdout, "deleted s-cscf %s\n", *name)
	}
	return nil
}

func chargingSetDefault(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("charging set-default")
	var ci hss.ChargingInfo
	fs.StringVar(&ci.PrimaryCCF, "primary-ccf", "", "primary charging collection function (DiameterURI)")
	fs.StringVar(&ci.SecondaryCCF, "secondary-ccf", "", "secondary CCF")
	fs.StringVar(&ci.PrimaryECF, "primary-ecf", "", "primary event charging function")
	fs.StringVar(&ci.SecondaryECF, "secondary-ecf", "", "secondary ECF")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	ctx, cancel := r.callCtx(ctx)
	defer cancel()
	if err := c.SetDefaultCharging(ctx, ci); err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(ci)
	}
	fmt.Fprintln(r.env.Stdout, "default charging addresses set")
	return nil
}
