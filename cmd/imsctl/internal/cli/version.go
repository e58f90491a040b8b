package cli

import (
	"context"
	"fmt"

	"github.com/imscore/imscore/internal/version"
)

// versionLine is what `imsctl --version` and `imsctl version` print: the program name and
// version.String(), the same line as the four nodes' --version ("hss 0.1.0 (rev …)").
func versionLine() string {
	return "imsctl " + version.String()
}

// versionCmd is `imsctl version`.
func versionCmd(_ context.Context, r *run, args []string) error {
	fs := r.flagSet("version")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	_, err := fmt.Fprintln(r.env.Stdout, versionLine())
	return err
}
