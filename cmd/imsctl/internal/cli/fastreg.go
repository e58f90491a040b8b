package cli

import (
	"context"
	"fmt"

	"github.com/imscore/imscore/hss/provision"
)

// The per-subscriber switch of the access-bound fast registration (docs/fastreg.md "Turning it on").

func fastregShow(ctx context.Context, r *run, args []string) error {
	return r.fastreg(ctx, "fastreg show", args, nil)
}

func fastregOn(ctx context.Context, r *run, args []string) error {
	on := true
	return r.fastreg(ctx, "fastreg on", args, &on)
}

func fastregOff(ctx context.Context, r *run, args []string) error {
	off := false
	return r.fastreg(ctx, "fastreg off", args, &off)
}

// fastreg shows the subscriber's state after setting it to *set, when set is not nil.
func (r *run) fastreg(ctx context.Context, name string, args []string, set *bool) error {
	fs := r.flagSet(name)
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
	var st *provision.FastRegStatus
	if set != nil {
		st, err = c.SetFastReg(ctx, impi, *set)
	} else {
		st, err = c.FastReg(ctx, impi)
	}
	if err != nil {
		return err
	}
	if r.g.json {
		return r.printJSON(st)
	}
	token := "none"
	if st.Token && st.Expires != nil {
		token = "stored, expires " + st.Expires.UTC().Format("2006-01-02T15:04:05Z")
	}
	fmt.Fprintf(r.env.Stdout, "IMPI %s: fast registration %s, token %s\n", st.IMPI,
		map[bool]string{true: "on", false: "off"}[st.Enabled], token)
	return nil
}
