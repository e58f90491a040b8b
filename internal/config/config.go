// Package config loads a node's configuration the same way for every imscore binary:
// built-in defaults, then a YAML file, then command-line flags, each overriding the one before.
//
// A binary declares its flags on a FlagSet bound directly to the fields of its Config value (so
// `--help` prints the built-in defaults), and calls Load. Load parses the flags once to find
// `--config`, decodes the file over the defaults, then parses the flags again so that flags given on
// the command line win over the file.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// FlagName is the flag that names the configuration file.
const FlagName = "config"

// ErrHelp is returned when the command line asked for -h/--help; the usage was already printed.
var ErrHelp = flag.ErrHelp

// Load fills cfg (a pointer to a struct with yaml tags whose fields fs is bound to) from the file named
// by --config, if any, and from args. Unknown keys in the file are an error so that a typo never
// silently leaves a default in force.
func Load(fs *flag.FlagSet, args []string, cfg any) error {
	path := fs.String(FlagName, "", "YAML configuration file; flags given on the command line override it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return nil
	}
	if err := DecodeFile(*path, cfg); err != nil {
		return err
	}
	// Flags win over the file: parse them again on top of what the file set.
	if err := fs.Parse(args); err != nil {
		return err
	}
	return nil
}

// DecodeFile decodes the YAML file at path over cfg, rejecting unknown keys.
func DecodeFile(path string, cfg any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	if err := Decode(b, cfg); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// Decode decodes YAML text over cfg, rejecting unknown keys. An empty document leaves cfg as it is.
func Decode(b []byte, cfg any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Dump writes cfg as YAML: the effective configuration, for `--dump-config` and the docs.
func Dump(w io.Writer, cfg any) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	return enc.Close()
}

// ListValue is a comma-separated flag ("a, b,c"): each Set replaces the list with its non-empty items,
// so that parsing the command line twice (Load) gives the same list. Bind it with fs.Var.
type ListValue func([]string)

// String implements flag.Value; the default is written in the flag's usage instead.
func (v ListValue) String() string { return "" }

// Set implements flag.Value.
func (v ListValue) Set(s string) error {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	v(out)
	return nil
}
