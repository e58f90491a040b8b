package vmtest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// accel chooses the accelerator: KVM only when /dev/kvm can be opened and the CPU shows vmx or
// svm. Some hosts expose a /dev/kvm that is a PVM backend without either flag; a stock kernel
// aborts or hangs there, while TCG boots it in about two seconds.
func accel(want string, kvmDev, cpuinfo string) (string, error) {
	switch want {
	case "tcg", "kvm":
		return want, nil
	case "", "auto":
	default:
		return "", fmt.Errorf("accel %q: want auto, kvm or tcg", want)
	}
	f, err := os.OpenFile(kvmDev, os.O_RDWR, 0)
	if err != nil {
		return "tcg", nil
	}
	f.Close()
	info, err := os.ReadFile(cpuinfo)
	if err != nil || !hasVirtFlag(info) {
		return "tcg", nil
	}
	return "kvm", nil
}

// hasVirtFlag reports whether a /proc/cpuinfo "flags" line has vmx (Intel) or svm (AMD).
func hasVirtFlag(cpuinfo []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(key) != "flags" {
			continue
		}
		for _, fl := range strings.Fields(val) {
			if fl == "vmx" || fl == "svm" {
				return true
			}
		}
	}
	return false
}

// qemuArgs is the command line: no NIC (nothing touches the host network), serial console on
// stdio, no reboot so that a kernel panic (panic=-1 reboots at once) ends QEMU.
func qemuArgs(acc string, memMB int, kernel, initrd string) []string {
	cpu := "max"
	if acc == "kvm" {
		cpu = "host"
	}
	return []string{
		"-accel", acc, "-cpu", cpu, "-machine", "pc", "-m", strconv.Itoa(memMB), "-smp", "1",
		"-nodefaults", "-nic", "none", "-display", "none", "-serial", "stdio", "-no-reboot",
		"-kernel", kernel, "-initrd", initrd,
		"-append", "console=ttyS0 panic=-1 oops=panic quiet loglevel=4",
	}
}

// BinaryResult is one test binary's outcome in the VM.
type BinaryResult struct {
	Name                    string
	ExitCode                int
	Passed, Failed, Skipped int
}

// consoleResult is what the serial console told us.
type consoleResult struct {
	binaries []BinaryResult
	final    map[string]string // key=value pairs of the RESULT line; nil if none came
}

// consoleScanner copies the serial console to out, line by line, and picks out the lines that
// start with the run's marker.
type consoleScanner struct {
	marker string
	out    io.Writer
	res    consoleResult
	onLine func(line string) // called for each line, e.g. to time the boot
}

func (s *consoleScanner) scan(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			line = strings.TrimRight(line, "\r\n")
			if _, werr := io.WriteString(s.out, line+"\n"); werr != nil {
				return werr
			}
			s.parse(line)
			if s.onLine != nil {
				s.onLine(line)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (s *consoleScanner) parse(line string) {
	// Kernel messages may precede the marker on the same console line.
	i := strings.Index(line, s.marker+" ")
	if i < 0 {
		return
	}
	fields := strings.Fields(line[i+len(s.marker):])
	if len(fields) == 0 {
		return
	}
	kv := map[string]string{}
	for _, f := range fields[1:] {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		}
	}
	atoi := func(k string) int { n, _ := strconv.Atoi(kv[k]); return n }
	switch fields[0] {
	case keywordBinary:
		s.res.binaries = append(s.res.binaries, BinaryResult{
			Name: kv["name"], ExitCode: atoi("exit"), Passed: atoi("passed"), Failed: atoi("failed"), Skipped: atoi("skipped"),
		})
	case keywordResult:
		s.res.final = kv
	}
}
