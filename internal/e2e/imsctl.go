package e2e

import (
	"context"
	"testing"
	"time"
)

// Imsctl runs cmd/imsctl against h's provisioning API, with h's token file, and fails the test on a non-zero
// exit.
func Imsctl(t testing.TB, b *Builder, h *HSS, args ...string) string {
	t.Helper()
	bin := b.MustPath(t, "imsctl")
	out, err := Run(context.Background(), 30*time.Second, bin, append([]string{"--api", h.API, "--token-file", h.TokenFile}, args...)...)
	if err != nil {
		t.Fatalf("imsctl %v: %v\n%s", args, err, out)
	}
	return out
}
