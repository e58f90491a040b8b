package cli

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/imscore/imscore/internal/httpauth"
)

// tokenCreate makes a token for the provisioning API (or an admin listener): its SHA-256, name and scopes are
// appended to the tokens file the HSS reads (api.tokens_file; created 0600), the token itself is printed once,
// or written to --out (0600) for a program to read with --token-file. The HSS reads the tokens file again
// within a second of a change.
func tokenCreate(_ context.Context, r *run, args []string) error {
	fs := r.flagSet("token create")
	file := fs.String("tokens-file", "", "the tokens file of the HSS (api.tokens_file) or a node's admin.tokens_file")
	name := fs.String("name", "", "who uses the token, as the audit log names it (imsctl, prometheus, crm…)")
	scopes := fs.String("scopes", "", "comma-separated: read, provision (implies read), admin (implies all), metrics")
	out := fs.String("out", "", "write the token to this file (0600) instead of stdout")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if *file == "" || *name == "" || *scopes == "" {
		return usageError("--tokens-file, --name and --scopes are required")
	}
	var list []httpauth.Scope
	for _, s := range splitList(*scopes) {
		sc, err := httpauth.ParseScope(s)
		if err != nil {
			return usageError("--scopes: %v", err)
		}
		list = append(list, sc)
	}
	secret, err := httpauth.AddToken(*file, *name, list)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := httpauth.WriteSecretFile(*out, []byte(secret+"\n")); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		fmt.Fprintf(r.env.Stderr, "imsctl: token %q (%s) added to %s, written to %s\n", *name, *scopes, *file, *out)
		return nil
	}
	fmt.Fprintln(r.env.Stdout, secret)
	fmt.Fprintf(r.env.Stderr, "imsctl: token %q (%s) added to %s; it is shown only now\n", *name, *scopes, *file)
	return nil
}

// tokenHash prints the hash of the token read from stdin, for tokens files kept in configuration management.
func tokenHash(_ context.Context, r *run, args []string) error {
	fs := r.flagSet("token hash")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	line, err := bufio.NewReader(r.env.Stdin).ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "" {
		return fmt.Errorf("no token on stdin: %v", err)
	}
	fmt.Fprintln(r.env.Stdout, httpauth.HashSecret(line))
	return nil
}
