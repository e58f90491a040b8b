// Package version names the build that every imscore binary reports with --version and logs at
// start-up, so that an operator can tell exactly which code a node runs.
package version

import (
	"runtime/debug"
	"strings"
)

// Release is the imscore release of these sources.
const Release = "0.1.0"

// String is the release followed by the VCS revision and a dirty mark, when the binary was built
// in a git checkout (Go stamps them into the build information): "0.1.0 (rev 63e2222abcd1)".
func String() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return Release
	}
	return describe(info.Settings)
}

func describe(settings []debug.BuildSetting) string {
	var rev string
	var dirty bool
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return Release
	}
	var b strings.Builder
	b.WriteString(Release + " (rev " + rev[:min(12, len(rev))])
	if dirty {
		b.WriteString(", modified")
	}
	b.WriteString(")")
	return b.String()
}
