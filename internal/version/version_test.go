package version

import (
	"runtime/debug"
	"testing"
)

func TestDescribe(t *testing.T) {
	tests := []struct {
		name     string
		settings []debug.BuildSetting
		want     string
	}{
		{"no VCS information", nil, Release},
		{"clean checkout", []debug.BuildSetting{{Key: "vcs.revision", Value: "63e2222abcd1234567890"}, {Key: "vcs.modified", Value: "false"}},
			Release + " (rev 63e2222abcd1)"},
		{"modified checkout", []debug.BuildSetting{{Key: "vcs.revision", Value: "63e2222abcd1234567890"}, {Key: "vcs.modified", Value: "true"}},
			Release + " (rev 63e2222abcd1, modified)"},
		{"short revision", []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}, Release + " (rev abc)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describe(tt.settings); got != tt.want {
				t.Fatalf("describe = %q, want %q", got, tt.want)
			}
		})
	}
}
