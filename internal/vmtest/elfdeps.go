package vmtest

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// defaultLibDirs are searched for shared libraries after DT_RUNPATH/DT_RPATH, as the glibc
// loader does on Debian (its trusted directories, without ld.so.cache).
var defaultLibDirs = []string{
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
}

// errStatic says an executable has no interpreter and no shared libraries.
var errStatic = errors.New("statically linked")

// sharedDeps returns the ELF interpreter and every shared library that exe needs, transitively,
// as host paths. The guest gets each at the same path, where its loader looks for it.
func sharedDeps(exe string) ([]string, error) {
	interp, needed, runpath, err := readDynamic(exe)
	if err != nil {
		return nil, err
	}
	if interp == "" && len(needed) == 0 {
		return nil, errStatic
	}
	var out []string
	if interp != "" {
		out = append(out, interp)
	}
	// libReq is a library to find, with the search path of the object that needs it.
	type libReq struct {
		name string
		dirs []string
	}
	seen := map[string]bool{}
	var queue []libReq
	for _, n := range needed {
		queue = append(queue, libReq{n, runpath})
	}
	for len(queue) > 0 {
		item := queue[0]
		queue = queue[1:]
		if seen[item.name] {
			continue
		}
		seen[item.name] = true
		found := ""
		for _, dir := range slices.Concat(item.dirs, defaultLibDirs) {
			p := filepath.Join(dir, item.name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				found = p
				break
			}
		}
		if found == "" {
			return nil, fmt.Errorf("%s needs %s, not found in %s", exe, item.name, strings.Join(defaultLibDirs, ":"))
		}
		if found != interp {
			out = append(out, found)
		}
		_, more, rp, err := readDynamic(found)
		if err != nil {
			return nil, err
		}
		for _, n := range more {
			queue = append(queue, libReq{n, rp})
		}
	}
	return out, nil
}

// readDynamic returns an ELF file's interpreter, DT_NEEDED entries and library search path.
func readDynamic(file string) (interp string, needed, runpath []string, err error) {
	f, err := elf.Open(file)
	if err != nil {
		return "", nil, nil, fmt.Errorf("elf %s: %w", file, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return "", nil, nil, fmt.Errorf("elf %s: interpreter: %w", file, err)
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	needed, err = f.ImportedLibraries()
	if err != nil {
		return "", nil, nil, fmt.Errorf("elf %s: %w", file, err)
	}
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		vals, _ := f.DynString(tag)
		for _, v := range vals {
			for _, dir := range strings.Split(v, ":") {
				if dir != "" && !strings.Contains(dir, "$") {
					runpath = append(runpath, dir)
				}
			}
		}
	}
	return interp, needed, runpath, nil
}

// checkStatic fails unless file is a statically linked x86-64 ELF executable, which is what
// the VM can run without its libraries (CGO_ENABLED=0 go test -c).
func checkStatic(file string) error {
	f, err := elf.Open(file)
	if err != nil {
		return fmt.Errorf("%s: not an ELF executable: %w", file, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("%s: built for %v, the VM is x86-64 (GOARCH=amd64)", file, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s: dynamically linked; build it with CGO_ENABLED=0", file)
		}
	}
	return nil
}
