package vmtest

import (
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Test is one statically built Go test binary to run in the VM.
type Test struct {
	// Name is unique among the tests of a run and becomes /tests/<Name>.test in the guest.
	Name string
	// Binary is the host path of the test binary (CGO_ENABLED=0 go test -c).
	Binary string
	// Dir, if set, is the package directory on the host: its testdata/ goes along, and the
	// binary runs in /tests/<Name>, as go test runs it in the package directory.
	Dir string
	// Args are passed to the binary (-test.run=…, …).
	Args []string
}

var testNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// guestLayout is what goes into the initramfs besides the tests.
type guestLayout struct {
	assets      Assets
	modules     []string // module files, relative to the modules directory
	loadModules []string // modprobed at boot, in order
	ip          string   // host path of iproute2's ip, or "" to leave it out
	ipLibs      []string // its interpreter and libraries
	initScript  string
}

// writeInitramfs writes the newc archive: busybox as /bin/busybox and /init, kernel modules,
// ip with its libraries, and the tests.
func writeInitramfs(w io.Writer, g guestLayout, tests []Test) error {
	c := newCPIOWriter(w)
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp", "run", "root", "etc", "tests"} {
		if err := c.Dir(d); err != nil {
			return err
		}
	}
	if err := addHostFile(c, "bin/busybox", g.assets.Busybox, 0o755); err != nil {
		return err
	}
	if err := c.Bytes("init", 0o755, []byte(g.initScript)); err != nil {
		return err
	}
	// Go's resolver reads /etc/hosts for "localhost"; os/user reads /etc/passwd.
	if err := c.Bytes("etc/hosts", 0o644, []byte("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n")); err != nil {
		return err
	}
	if err := c.Bytes("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\n")); err != nil {
		return err
	}
	if err := c.Bytes("etc/group", 0o644, []byte("root:x:0:\n")); err != nil {
		return err
	}

	modDir := "lib/modules/" + g.assets.KernelRelease
	indexFiles, err := filepath.Glob(filepath.Join(g.assets.ModulesDir, "modules.*"))
	if err != nil {
		return err
	}
	for _, f := range indexFiles {
		if err := addHostFile(c, path.Join(modDir, filepath.Base(f)), f, 0o644); err != nil {
			return err
		}
	}
	for _, m := range g.modules {
		if err := addHostFile(c, path.Join(modDir, m), filepath.Join(g.assets.ModulesDir, filepath.FromSlash(m)), 0o644); err != nil {
			return err
		}
	}

	if g.ip != "" {
		// busybox sh runs its own applets for bare names (SH_STANDALONE), and its "ip" has no
		// xfrm: the real one is only reachable as /usr/sbin/ip.
		if err := addHostFile(c, "usr/sbin/ip", g.ip, 0o755); err != nil {
			return err
		}
		for _, lib := range g.ipLibs {
			if err := addHostFile(c, lib, lib, 0o755); err != nil {
				return err
			}
		}
	}

	for _, t := range tests {
		if err := addHostFile(c, "tests/"+t.Name+".test", t.Binary, 0o755); err != nil {
			return err
		}
		if err := c.Dir("tests/" + t.Name); err != nil {
			return err
		}
		if t.Dir != "" {
			if err := addTree(c, "tests/"+t.Name+"/testdata", filepath.Join(t.Dir, "testdata")); err != nil {
				return err
			}
		}
	}
	return c.Close()
}

func addHostFile(c *cpioWriter, guest, host string, perm uint32) error {
	f, err := os.Open(host) // follows symlinks: the guest gets the content
	if err != nil {
		return fmt.Errorf("initramfs %s: %w", guest, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("initramfs %s: %w", guest, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("initramfs %s: %s is not a regular file", guest, host)
	}
	return c.File(guest, perm, st.Size(), f)
}

// addTree copies a host directory tree (regular files and symlinks); a missing tree is fine.
func addTree(c *cpioWriter, guest, host string) error {
	if _, err := os.Stat(host); os.IsNotExist(err) {
		return nil
	}
	return filepath.WalkDir(host, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(host, p)
		if err != nil {
			return err
		}
		g := path.Join(guest, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			return c.Dir(g)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return c.Symlink(g, target)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return addHostFile(c, g, p, uint32(info.Mode().Perm()))
		}
		return nil // sockets, devices: not test data
	})
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Result line keywords; each line starts with the run's marker.
const (
	keywordBinary = "BINARY"
	keywordResult = "RESULT"
)

// initScript is the guest's /init: busybox sh as PID 1. It prints per binary and at the end a
// result line starting with marker (unique per run, so test output cannot fake it), then a plain
// "N passed, N failed" line for whoever reads the log, and powers off.
func initScript(marker string, loadModules []string, env map[string]string, tests []Test) string {
	var b strings.Builder
	b.WriteString(`#!/bin/busybox sh
# /init of the imscore test VM, generated by internal/vmtest.
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
uptime_s() { cut -d' ' -f1 /proc/uptime; }
echo "vmtest: /init at $(uptime_s)s, kernel $(uname -r)"
`)
	b.WriteString("for m in")
	for _, m := range loadModules {
		b.WriteString(" " + shellQuote(m))
	}
	b.WriteString(`; do
	modprobe "$m" || echo "vmtest: modprobe $m failed"
done
ip link set lo up
echo "vmtest: modules loaded at $(uptime_s)s"
`)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(env[k]))
	}
	fmt.Fprintf(&b, `passed=0; failed=0; skipped=0; bad=0
run_test() {
	name=$1; shift
	echo "vmtest: running $name"
	cd "/tests/$name"
	( "/tests/$name.test" "$@"; echo $? > "/tmp/$name.rc" ) 2>&1 | tee "/tmp/$name.out"
	rc=$(cat "/tmp/$name.rc" 2>/dev/null || echo 255)
	p=$(grep -cE '^ *--- PASS: ' "/tmp/$name.out")
	f=$(grep -cE '^ *--- FAIL: ' "/tmp/$name.out")
	s=$(grep -cE '^ *--- SKIP: ' "/tmp/$name.out")
	# a panic, a -test.timeout or a failing TestMain prints no FAIL line: count the binary
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
	[ "$rc" = 0 ] || bad=$((bad+1))
	passed=$((passed+p)); failed=$((failed+f)); skipped=$((skipped+s))
	echo "%[1]s %[2]s name=$name exit=$rc passed=$p failed=$f skipped=$s"
	cd /
}
`, marker, keywordBinary)
	for _, t := range tests {
		b.WriteString("run_test " + shellQuote(t.Name))
		for _, a := range t.Args {
			b.WriteString(" " + shellQuote(a))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, `status=PASS
[ "$bad" = 0 ] || status=FAIL
echo "%[1]s %[2]s status=$status passed=$passed failed=$failed skipped=$skipped uptime=$(uptime_s)"
echo "$passed passed, $failed failed"
poweroff -f
`, marker, keywordResult)
	return b.String()
}
