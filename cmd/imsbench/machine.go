package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// Machine is what the numbers were measured on.
type Machine struct {
	CPU         string `json:"cpu"`
	Cores       int    `json:"cores"`
	MemoryBytes uint64 `json:"memory_bytes"`
	Kernel      string `json:"kernel"`
	GoVersion   string `json:"go_version"`
	SIPp        string `json:"sipp,omitempty"`
	Postgres    string `json:"postgres,omitempty"`
}

// Commit is the code that was measured.
type Commit struct {
	Revision string `json:"revision"`
	Short    string `json:"short"`
	Describe string `json:"describe"` // git describe --always --dirty
	Dirty    bool   `json:"dirty"`
}

// readMachine reads /proc and asks the tools for their versions; what it cannot find stays empty.
func readMachine(ctx context.Context, goBin string) Machine {
	m := Machine{Cores: runtime.NumCPU()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		m.CPU = cpuModel(f)
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		m.MemoryBytes = memTotal(f)
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.GoVersion = firstLine(output(ctx, "", goBin, "version"))
	m.SIPp = sippVersion(output(ctx, "", "sipp", "-v"))
	return m
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// memTotal is MemTotal of /proc/meminfo in bytes.
func memTotal(r io.Reader) uint64 {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

// sippVersion picks "SIPp v3.6.1-…" out of `sipp -v`.
func sippVersion(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "SIPp v") {
			return strings.TrimSuffix(l, ".")
		}
	}
	return ""
}

// readCommit asks git about the working tree at root.
func readCommit(ctx context.Context, root string) Commit {
	c := Commit{
		Revision: firstLine(output(ctx, root, "git", "rev-parse", "HEAD")),
		Short:    firstLine(output(ctx, root, "git", "rev-parse", "--short=12", "HEAD")),
		Describe: firstLine(output(ctx, root, "git", "describe", "--always", "--dirty")),
	}
	c.Dirty = strings.HasSuffix(c.Describe, "-dirty")
	return c
}

// output runs a short command and returns its standard output, "" when it fails.
func output(ctx context.Context, dir, name string, args ...string) string {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		return ""
	}
	return string(out)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}
