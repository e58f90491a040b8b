package resolve

import (
	"path/filepath"
	"testing"

	"github.com/imscore/imscore/internal/bindtest"
)

// TestBind9 runs the RFC 3263 and ENUM cases against Debian's bind9 serving the same zones as the in-process
// server (internal/bindtest starts it).
func TestBind9(t *testing.T) {
	addr := bindtest.Start(t,
		bindtest.File(t, "example.com", filepath.Join("testdata", "example.com.zone")),
		bindtest.File(t, "e164.arpa", filepath.Join("testdata", "e164.arpa.zone")))
	t.Run("RFC3263", func(t *testing.T) { runResolveCases(t, addr) })
	t.Run("ENUM", func(t *testing.T) { runENUMCases(t, addr) })
}
