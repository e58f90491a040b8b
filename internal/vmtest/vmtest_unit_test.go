package vmtest

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// cpioEntry is one entry read back from a newc archive.
type cpioEntry struct {
	name string
	mode uint32
	data string
}

// readCPIO parses newc by the format's definition, independently of the writer.
func readCPIO(t *testing.T, b []byte) []cpioEntry {
	t.Helper()
	var out []cpioEntry
	off := 0
	align := func(n int) int { return (n + 3) &^ 3 }
	for {
		if off+110 > len(b) {
			t.Fatalf("truncated header at %d", off)
		}
		h := string(b[off : off+110])
		if h[:6] != "070701" {
			t.Fatalf("bad magic %q at %d", h[:6], off)
		}
		field := func(i int) int {
			v, err := strconv.ParseUint(h[6+8*i:6+8*i+8], 16, 32)
			if err != nil {
				t.Fatalf("field %d: %v", i, err)
			}
			return int(v)
		}
		mode, size, namesize := field(1), field(6), field(11)
		nameEnd := off + 110 + namesize
		name := string(b[off+110 : nameEnd-1])
		if b[nameEnd-1] != 0 {
			t.Fatalf("%s: name not NUL-terminated", name)
		}
		dataOff := align(nameEnd)
		if name == "TRAILER!!!" {
			if dataOff != len(b) && align(len(b)) != len(b) {
				t.Fatalf("archive length %d not aligned", len(b))
			}
			return out
		}
		out = append(out, cpioEntry{name: name, mode: uint32(mode), data: string(b[dataOff : dataOff+size])})
		off = align(dataOff + size)
	}
}

func TestCPIOWriter(t *testing.T) {
	var short bytes.Buffer
	if err := newCPIOWriter(&short).File("short", 0o644, 10, strings.NewReader("abc")); err == nil {
		t.Fatal("File with a short reader did not fail")
	}
	var buf bytes.Buffer
	c := newCPIOWriter(&buf)
	for _, step := range []error{
		c.Dir("/tests"),
		c.Bytes("/lib/modules/6.1/kernel/a.ko", 0o644, []byte("abc")),
		c.Bytes("init", 0o755, []byte("#!/bin/busybox sh\n")),
		c.Symlink("lib64/ld.so", "../lib/ld.so"),
		c.Bytes("empty", 0o600, nil),
		c.Close(),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	got := readCPIO(t, buf.Bytes())
	want := []cpioEntry{
		{"tests", modeDir | 0o755, ""},
		{"lib", modeDir | 0o755, ""},
		{"lib/modules", modeDir | 0o755, ""},
		{"lib/modules/6.1", modeDir | 0o755, ""},
		{"lib/modules/6.1/kernel", modeDir | 0o755, ""},
		{"lib/modules/6.1/kernel/a.ko", modeRegular | 0o644, "abc"},
		{"init", modeRegular | 0o755, "#!/bin/busybox sh\n"},
		{"lib64", modeDir | 0o755, ""},
		{"lib64/ld.so", modeSymlink | 0o777, "../lib/ld.so"},
		{"empty", modeRegular | 0o600, ""},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("entries:\n got %v\nwant %v", got, want)
	}
	if buf.Len()%4 != 0 {
		t.Fatalf("archive length %d is not a multiple of 4", buf.Len())
	}
}

func TestModulesClosure(t *testing.T) {
	// As busybox depmod writes it, plus an absolute path as some depmods do.
	dep := `kernel/net/ipv4/esp4.ko: kernel/net/xfrm/xfrm_algo.ko kernel/crypto/authenc.ko
kernel/net/xfrm/xfrm_algo.ko:
kernel/crypto/authenc.ko:
kernel/arch/x86/crypto/des3_ede-x86_64.ko: kernel/lib/crypto/libdes.ko
kernel/lib/crypto/libdes.ko:
/lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/net/veth.ko:
kernel/drivers/net/dummy.ko:
kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko
kernel/lib/crc16.ko:
`
	idx, err := parseModulesDep(strings.NewReader(dep))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		names   []string
		dirs    []string
		files   []string
		unknown []string
	}{
		{"esp4 pulls its dependencies", []string{"esp4"}, nil,
			[]string{"kernel/crypto/authenc.ko", "kernel/net/ipv4/esp4.ko", "kernel/net/xfrm/xfrm_algo.ko"}, nil},
		{"dash and underscore are one", []string{"des3_ede_x86_64"}, nil,
			[]string{"kernel/arch/x86/crypto/des3_ede-x86_64.ko", "kernel/lib/crypto/libdes.ko"}, nil},
		{"absolute path made relative", []string{"veth"}, nil, []string{"kernel/drivers/net/veth.ko"}, nil},
		{"built-in or missing modules are reported", []string{"hmac", "veth"}, nil, []string{"kernel/drivers/net/veth.ko"}, []string{"hmac"}},
		{"whole directories", nil, []string{"kernel/crypto/", "kernel/lib/crypto/"},
			[]string{"kernel/crypto/authenc.ko", "kernel/lib/crypto/libdes.ko"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, unknown := idx.closure(tc.names, tc.dirs)
			if !slices.Equal(files, tc.files) || !slices.Equal(unknown, tc.unknown) {
				t.Fatalf("closure = %v, unknown %v; want %v, %v", files, unknown, tc.files, tc.unknown)
			}
		})
	}
	if _, err := parseModulesDep(strings.NewReader("no colon here\n")); err == nil {
		t.Fatal("a line without a colon parsed")
	}
}

func TestParseAptOutput(t *testing.T) {
	depends := []byte(`linux-image-cloud-amd64
  Depends: linux-image-6.1.0-56-cloud-amd64
`)
	if got, err := parseKernelDepends(depends); err != nil || got != "linux-image-6.1.0-56-cloud-amd64" {
		t.Fatalf("parseKernelDepends = %q, %v", got, err)
	}
	if _, err := parseKernelDepends([]byte("linux-image-cloud-amd64\n  Depends: dummy\n")); err == nil {
		t.Fatal("no linux-image dependency, but no error")
	}
	policy := []byte(`busybox-static:
  Installed: (none)
  Candidate: 1:1.35.0-4+deb12u1+b1
  Version table:
     1:1.35.0-4+deb12u1+b1 500
`)
	if got, err := parseCandidate("busybox-static", policy); err != nil || got != "1:1.35.0-4+deb12u1+b1" {
		t.Fatalf("parseCandidate = %q, %v", got, err)
	}
	if _, err := parseCandidate("x", []byte("x:\n  Installed: (none)\n  Candidate: (none)\n")); err == nil {
		t.Fatal("Candidate (none), but no error")
	}
	if got := (debPackage{"busybox-static", "1:1.35.0-4"}).dirName(); got != "busybox-static_1%3a1.35.0-4" {
		t.Fatalf("dirName = %q", got)
	}
}

func TestAccel(t *testing.T) {
	dir := t.TempDir()
	openable := filepath.Join(dir, "kvm")
	if err := os.WriteFile(openable, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	vmx := filepath.Join(dir, "cpuinfo-vmx")
	pvm := filepath.Join(dir, "cpuinfo-pvm")
	if err := os.WriteFile(vmx, []byte("processor\t: 0\nflags\t\t: fpu vme de pse vmx sse2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pvm, []byte("processor\t: 0\nflags\t\t: fpu vme de pse sse2 hypervisor\nvmx flags\t: none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, want, dev, cpuinfo, expect string
	}{
		{"auto, usable kvm", "auto", openable, vmx, "kvm"},
		{"auto, /dev/kvm without vmx/svm (PVM)", "auto", openable, pvm, "tcg"},
		{"auto, no /dev/kvm", "", filepath.Join(dir, "missing"), vmx, "tcg"},
		{"forced tcg", "tcg", openable, vmx, "tcg"},
		{"forced kvm", "kvm", filepath.Join(dir, "missing"), pvm, "kvm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := accel(tc.want, tc.dev, tc.cpuinfo)
			if err != nil || got != tc.expect {
				t.Fatalf("accel = %q, %v; want %q", got, err, tc.expect)
			}
		})
	}
	if _, err := accel("hvf", openable, vmx); err == nil {
		t.Fatal("unknown accelerator accepted")
	}
}

func TestConsoleScanner(t *testing.T) {
	marker := "IMSCORE-VMTEST-0123456789abcdef"
	console := strings.Join([]string{
		"[    0.000000] Linux version 6.1.0",
		"vmtest: /init at 1.80s, kernel 6.1.0-56-cloud-amd64",
		"--- PASS: TestX (0.00s)",
		"IMSCORE-VMTEST-ffffffffffffffff RESULT status=PASS passed=99 failed=0", // another run's marker
		marker + " BINARY name=sip_ipsec exit=1 passed=3 failed=2 skipped=1",
		"[    5.1] random: crng init done" + marker + " RESULT status=FAIL passed=3 failed=2 skipped=1 uptime=6.1",
		"3 passed, 2 failed",
	}, "\r\n") + "\r\n"
	var out bytes.Buffer
	var lines int
	s := &consoleScanner{marker: marker, out: &out, onLine: func(string) { lines++ }}
	if err := s.scan(strings.NewReader(console)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "\r") || lines != 7 {
		t.Fatalf("copied %d lines, carriage returns left: %q", lines, out.String())
	}
	wantBin := []BinaryResult{{Name: "sip_ipsec", ExitCode: 1, Passed: 3, Failed: 2, Skipped: 1}}
	if !slices.Equal(s.res.binaries, wantBin) {
		t.Fatalf("binaries %+v", s.res.binaries)
	}
	if s.res.final["status"] != "FAIL" || s.res.final["passed"] != "3" || s.res.final["failed"] != "2" {
		t.Fatalf("result %v", s.res.final)
	}
	s = &consoleScanner{marker: marker, out: io.Discard}
	if err := s.scan(strings.NewReader("Kernel panic - not syncing\n")); err != nil || s.res.final != nil {
		t.Fatalf("a console without result line gave %v, %v", s.res.final, err)
	}
}

func TestInitScript(t *testing.T) {
	tests := []Test{{Name: "sip_ipsec", Args: []string{"-test.v", "-test.run=TestA|TestB", "it's"}}}
	s := initScript("MARK", []string{"esp4", "des3_ede-x86_64"}, map[string]string{"B": "2", "A": "x y"}, tests)
	for _, want := range []string{
		"#!/bin/busybox sh\n",
		"for m in 'esp4' 'des3_ede-x86_64'; do",
		"export A='x y'\nexport B='2'\n",
		`run_test 'sip_ipsec' '-test.v' '-test.run=TestA|TestB' 'it'\''s'` + "\n",
		`echo "MARK RESULT status=$status passed=$passed failed=$failed skipped=$skipped`,
		`echo "$passed passed, $failed failed"`,
		"poweroff -f\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("init script lacks %q", want)
		}
	}
	if strings.Index(s, "modprobe") > strings.Index(s, "run_test 'sip_ipsec'") {
		t.Error("tests run before the modules are loaded")
	}
}

func TestCheckTests(t *testing.T) {
	exe, err := os.Executable() // this test binary: built with the race detector, so dynamic or static
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		tests []Test
		ok    bool
	}{
		{"none", nil, false},
		{"bad name", []Test{{Name: "a/b", Binary: exe}}, false},
		{"duplicate", []Test{{Name: "a", Binary: exe}, {Name: "a", Binary: exe}}, false},
		{"not ELF", []Test{{Name: "a", Binary: "/etc/hostname"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkTests(tc.tests); (err == nil) != tc.ok {
				t.Fatalf("checkTests = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if err := checkStatic("/usr/sbin/ip"); err == nil {
		t.Error("/usr/sbin/ip passed as static")
	}
}

func TestSharedDeps(t *testing.T) {
	const ip = "/usr/sbin/ip"
	if _, err := os.Stat(ip); err != nil {
		t.Skipf("%s: %v", ip, err)
	}
	libs, err := sharedDeps(ip)
	if err != nil {
		t.Fatal(err)
	}
	var haveLibc, haveLoader bool
	for _, l := range libs {
		haveLibc = haveLibc || strings.HasPrefix(filepath.Base(l), "libc.so")
		haveLoader = haveLoader || strings.HasPrefix(filepath.Base(l), "ld-linux")
		if _, err := os.Stat(l); err != nil {
			t.Errorf("%s: %v", l, err)
		}
	}
	if !haveLibc || !haveLoader {
		t.Fatalf("deps of %s lack libc or the loader: %v", ip, libs)
	}
	if _, err := sharedDeps(cachedStaticBusybox(t)); err != errStatic {
		t.Fatalf("static binary: %v, want errStatic", err)
	}
}

// cachedStaticBusybox returns the static busybox of the cache if there is one, else skips.
func cachedStaticBusybox(t *testing.T) string {
	t.Helper()
	cache, err := DefaultCacheDir()
	if err != nil {
		t.Skip(err)
	}
	matches, _ := filepath.Glob(filepath.Join(cache, "busybox-static_*", "bin", "busybox"))
	if len(matches) == 0 {
		t.Skipf("no cached busybox-static in %s", cache)
	}
	return matches[0]
}
