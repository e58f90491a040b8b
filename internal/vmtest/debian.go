package vmtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Assets are the unpacked Debian packages the VM boots from.
type Assets struct {
	KernelPackage  string // e.g. linux-image-6.1.0-56-cloud-amd64
	KernelVersion  string // Debian version of that package, e.g. 6.1.192-2
	KernelRelease  string // uname -r, e.g. 6.1.0-56-cloud-amd64
	Kernel         string // host path of vmlinuz
	ModulesDir     string // host path of lib/modules/<release>, with modules.dep
	Busybox        string // host path of the static busybox
	BusyboxVersion string
}

// completeMarker is written last into an unpacked package directory: a directory without it is
// a crashed or concurrent unpack and is not used.
const completeMarker = ".complete"

// debPackage is a package resolved in the apt index.
type debPackage struct{ name, version string }

// dirName is the cache directory of a package version (':' of an epoch is not welcome in paths).
func (p debPackage) dirName() string {
	return p.name + "_" + strings.ReplaceAll(p.version, ":", "%3a")
}

// fetcher downloads and unpacks Debian packages into the cache.
type fetcher struct {
	cache   string
	offline bool
	log     *zap.Logger
}

// prepare makes sure the kernel behind meta and busybox-static are unpacked in the cache and
// returns where. With offline set, or when apt cannot resolve them, it uses what the cache has.
func (f *fetcher) prepare(ctx context.Context, meta string) (Assets, error) {
	var a Assets
	if err := os.MkdirAll(f.cache, 0o755); err != nil {
		return a, fmt.Errorf("vmtest cache: %w", err)
	}
	bpkg, broot, err := f.ensure(ctx, func(context.Context) (string, error) { return "busybox-static", nil }, "busybox-static", nil)
	if err != nil {
		return a, fmt.Errorf("busybox-static: %w", err)
	}
	a.Busybox, a.BusyboxVersion = filepath.Join(broot, "bin", "busybox"), bpkg.version
	if _, err := os.Stat(a.Busybox); err != nil {
		return a, fmt.Errorf("busybox-static has no bin/busybox: %w", err)
	}
	// Debian's kernel packages ship no modules.dep and the host has no
	// kmod depmod: busybox's does the job, once, before the unpacked kernel enters the cache.
	depmod := func(ctx context.Context, root string) error {
		dir, release, err := findModulesDir(root)
		if err != nil {
			return err
		}
		if strings.Contains(filepath.ToSlash(dir), "/usr/lib/modules/") {
			// depmod -b looks under <root>/lib/modules; merged-/usr packages have usr/lib only.
			if err := os.Symlink("usr/lib", filepath.Join(root, "lib")); err != nil && !errors.Is(err, os.ErrExist) {
				return err
			}
		}
		return run(ctx, "", a.Busybox, "depmod", "-b", root, release)
	}
	kpkg, kroot, err := f.ensure(ctx, func(ctx context.Context) (string, error) { return kernelPackageOf(ctx, meta) }, "linux-image-*", depmod)
	if err != nil {
		return a, fmt.Errorf("kernel package (%s): %w", meta, err)
	}
	a.KernelPackage, a.KernelVersion = kpkg.name, kpkg.version
	a.ModulesDir, a.KernelRelease, err = findModulesDir(kroot)
	if err != nil {
		return a, err
	}
	if _, err := os.Stat(filepath.Join(a.ModulesDir, "modules.dep")); err != nil {
		return a, fmt.Errorf("%s: %w", a.KernelPackage, err)
	}
	a.Kernel = filepath.Join(kroot, "boot", "vmlinuz-"+a.KernelRelease)
	if _, err := os.Stat(a.Kernel); err != nil {
		return a, fmt.Errorf("%s has no vmlinuz: %w", a.KernelPackage, err)
	}
	return a, nil
}

// ensure resolves a package (resolve gives its name) to its candidate version, downloads and
// unpacks it unless the cache has it, runs postUnpack (if set) on the fresh tree, and returns
// the unpacked root. When apt cannot tell (no index, offline), the newest cached directory
// matching glob is used instead.
func (f *fetcher) ensure(ctx context.Context, resolve func(context.Context) (string, error), glob string, postUnpack func(context.Context, string) error) (debPackage, string, error) {
	var pkg debPackage
	var err error
	memo := filepath.Join(f.cache, ".resolved-"+strings.TrimSuffix(glob, "*"))
	if cached, ok := f.recentlyResolved(memo); ok && !f.offline {
		return cached, filepath.Join(f.cache, cached.dirName()), nil
	}
	if !f.offline {
		pkg.name, err = resolve(ctx)
		if err == nil {
			pkg.version, err = candidateVersion(ctx, pkg.name)
		}
	}
	if f.offline || err != nil {
		cached, cerr := f.newestCached(glob)
		if cerr != nil {
			if err != nil {
				return pkg, "", fmt.Errorf("%w; and nothing cached: %w", err, cerr)
			}
			return pkg, "", cerr
		}
		if err != nil {
			f.log.Warn("apt cannot resolve the package, using the cache", zap.Error(err), zap.String("cached", cached.dirName()))
		}
		return cached, filepath.Join(f.cache, cached.dirName()), nil
	}
	root := filepath.Join(f.cache, pkg.dirName())
	if _, err := os.Stat(filepath.Join(root, completeMarker)); err != nil {
		f.log.Info("downloading", zap.String("package", pkg.name), zap.String("version", pkg.version))
		if err := f.download(ctx, pkg, root, postUnpack); err != nil {
			return pkg, root, err
		}
	}
	// Each apt-cache call costs about half a second; remember the answer for a while.
	if err := os.WriteFile(memo, []byte(pkg.name+" "+pkg.version+"\n"), 0o644); err != nil {
		f.log.Warn("cannot remember the apt resolution", zap.Error(err))
	}
	return pkg, root, nil
}

// resolveTTL is how long an apt resolution is trusted before apt is asked again: a new kernel
// in the archive is picked up within this time.
const resolveTTL = 12 * time.Hour

// recentlyResolved returns the package a fresh memo file names, if it is unpacked in the cache.
func (f *fetcher) recentlyResolved(memo string) (debPackage, bool) {
	st, err := os.Stat(memo)
	if err != nil || time.Since(st.ModTime()) > resolveTTL {
		return debPackage{}, false
	}
	b, err := os.ReadFile(memo)
	if err != nil {
		return debPackage{}, false
	}
	name, version, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
	if !ok {
		return debPackage{}, false
	}
	pkg := debPackage{name, version}
	if _, err := os.Stat(filepath.Join(f.cache, pkg.dirName(), completeMarker)); err != nil {
		return debPackage{}, false
	}
	return pkg, true
}

// download fetches pkg with apt-get download and unpacks it with dpkg-deb -x into root,
// through a temporary directory so that a concurrent or interrupted run never sees half of it.
func (f *fetcher) download(ctx context.Context, pkg debPackage, root string, postUnpack func(context.Context, string) error) error {
	tmp, err := os.MkdirTemp(f.cache, ".download-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// As root, apt warns that the download is unsandboxed: harmless.
	if err := run(ctx, tmp, "apt-get", "download", "-q", pkg.name+"="+pkg.version); err != nil {
		return fmt.Errorf("apt-get download %s=%s: %w", pkg.name, pkg.version, err)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("apt-get download %s: found %d .deb files", pkg.name, len(debs))
	}
	unpacked := filepath.Join(tmp, "root")
	if err := run(ctx, "", "dpkg-deb", "-x", debs[0], unpacked); err != nil {
		return fmt.Errorf("dpkg-deb -x %s: %w", filepath.Base(debs[0]), err)
	}
	if postUnpack != nil {
		if err := postUnpack(ctx, unpacked); err != nil {
			return fmt.Errorf("%s: %w", pkg.name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(unpacked, completeMarker), []byte(pkg.name+" "+pkg.version+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(unpacked, root); err != nil {
		if _, serr := os.Stat(filepath.Join(root, completeMarker)); serr == nil {
			return nil // another run unpacked it first
		}
		return fmt.Errorf("vmtest cache: %w", err)
	}
	return nil
}

// newestCached finds the most recently unpacked complete package directory matching glob.
func (f *fetcher) newestCached(glob string) (debPackage, error) {
	matches, _ := filepath.Glob(filepath.Join(f.cache, glob+"_*", completeMarker))
	if len(matches) == 0 {
		return debPackage{}, fmt.Errorf("no %s in the cache %s", glob, f.cache)
	}
	sort.Slice(matches, func(i, j int) bool {
		si, _ := os.Stat(matches[i])
		sj, _ := os.Stat(matches[j])
		return si.ModTime().After(sj.ModTime())
	})
	content, err := os.ReadFile(matches[0])
	if err != nil {
		return debPackage{}, err
	}
	name, version, ok := strings.Cut(strings.TrimSpace(string(content)), " ")
	if !ok {
		return debPackage{}, fmt.Errorf("bad marker %s", matches[0])
	}
	return debPackage{name, version}, nil
}

// kernelPackageOf returns the versioned kernel package a metapackage such as
// linux-image-cloud-amd64 depends on ("Depends: linux-image-6.1.0-56-cloud-amd64").
func kernelPackageOf(ctx context.Context, meta string) (string, error) {
	out, err := output(ctx, "apt-cache", "depends", meta)
	if err != nil {
		return "", err
	}
	return parseKernelDepends(out)
}

func parseKernelDepends(out []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		dep, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Depends: ")
		if ok && strings.HasPrefix(dep, "linux-image-") {
			return strings.TrimSpace(dep), nil
		}
	}
	return "", errors.New("apt-cache depends lists no linux-image-* dependency")
}

// candidateVersion is the version apt would install.
func candidateVersion(ctx context.Context, pkg string) (string, error) {
	out, err := output(ctx, "apt-cache", "policy", pkg)
	if err != nil {
		return "", err
	}
	return parseCandidate(pkg, out)
}

func parseCandidate(pkg string, out []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Candidate: ")
		if ok {
			if v = strings.TrimSpace(v); v == "" || v == "(none)" {
				break
			}
			return v, nil
		}
	}
	return "", fmt.Errorf("apt has no candidate for %s (apt-get update?)", pkg)
}

// findModulesDir finds lib/modules/<release> (or usr/lib/modules) in an unpacked kernel package.
func findModulesDir(root string) (dir, release string, err error) {
	for _, base := range []string{"lib/modules", "usr/lib/modules"} {
		entries, err := os.ReadDir(filepath.Join(root, base))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() {
				return filepath.Join(root, base, e.Name()), e.Name(), nil
			}
		}
	}
	return "", "", fmt.Errorf("no lib/modules/<release> in %s", root)
}

// run runs a command, in dir if set, and returns its stderr in the error.
func run(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func output(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
