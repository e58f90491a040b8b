package vmtest

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// defaultLoadModules are modprobed at boot, in this order, before the tests run. Without
// drbg and jitterentropy_rng (the default RNG "stdrng"), echainiv/seqiv cannot generate CBC IVs
// and every CBC ESP state fails with ENOENT. libdes comes in as a dependency of des3_ede.
var defaultLoadModules = []string{
	"xfrm_algo", "xfrm_user", "esp4", "esp6", "authenc", "echainiv", "seqiv", "ecb",
	"des_generic", "des3_ede-x86_64", "drbg", "jitterentropy_rng", "veth",
}

// Modules copied into the VM but not loaded, so that the kernel can autoload them through
// request_module() → /sbin/modprobe (e.g. for AEAD or AH in later tests): every module under
// these directories, and these by name, each with its dependencies.
var (
	shippedModuleDirs = []string{
		"kernel/crypto/", "kernel/lib/crypto/", "kernel/arch/x86/crypto/", "kernel/net/xfrm/", "kernel/net/key/",
	}
	shippedModules = []string{
		"ah4", "ah6", "ipcomp", "ipcomp6", "xfrm4_tunnel", "xfrm6_tunnel", "esp4_offload", "esp6_offload", "dummy",
	}
)

// moduleDep is one line of modules.dep.
type moduleDep struct {
	path string   // relative to /lib/modules/<kver>, e.g. kernel/net/ipv4/esp4.ko
	deps []string // likewise
}

// moduleIndex is modules.dep, by module name.
type moduleIndex struct {
	byName map[string]moduleDep
	byPath map[string]moduleDep
}

// moduleName is the kernel's name of a module file or of a name as written in a list:
// without directory and .ko suffix, with '-' folded to '_' (modprobe treats them alike).
func moduleName(s string) string {
	s = path.Base(s)
	if i := strings.Index(s, ".ko"); i >= 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "-", "_")
}

// parseModulesDep reads modules.dep ("path: dep dep ..."). Paths may be absolute (some depmods
// write /lib/modules/<kver>/kernel/...): they are made relative to the modules directory.
func parseModulesDep(r io.Reader) (moduleIndex, error) {
	idx := moduleIndex{byName: map[string]moduleDep{}, byPath: map[string]moduleDep{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		mod, deps, ok := strings.Cut(line, ":")
		if !ok {
			return idx, fmt.Errorf("modules.dep line %d: no colon in %q", n, line)
		}
		d := moduleDep{path: relModulePath(mod)}
		for _, dep := range strings.Fields(deps) {
			d.deps = append(d.deps, relModulePath(dep))
		}
		idx.byName[moduleName(d.path)] = d
		idx.byPath[d.path] = d
	}
	return idx, sc.Err()
}

func relModulePath(p string) string {
	p = strings.TrimSpace(p)
	if i := strings.Index(p, "/kernel/"); strings.HasPrefix(p, "/") && i >= 0 {
		return p[i+1:]
	}
	return p
}

// closure returns the module files needed for the named modules and every module under the
// given directories, with all their dependencies, sorted. Unknown names are returned apart
// (they may be built into the kernel).
func (idx moduleIndex) closure(names []string, dirs []string) (files []string, unknown []string) {
	seen := map[string]bool{}
	var visit func(p string)
	visit = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		for _, dep := range idx.byPath[p].deps {
			visit(dep)
		}
	}
	for _, name := range names {
		d, ok := idx.byName[moduleName(name)]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		visit(d.path)
	}
	for p := range idx.byPath {
		for _, dir := range dirs {
			if strings.HasPrefix(p, dir) {
				visit(p)
			}
		}
	}
	for p := range seen {
		files = append(files, p)
	}
	sort.Strings(files)
	return files, unknown
}
