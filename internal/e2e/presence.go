package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
)

// PresenceAS is a running cmd/presence: the presence server (SIP, an ISC application server) and its
// XDMS (XCAP over HTTP).
type PresenceAS struct {
	*Process
	SIP  string
	HTTP string
	DB   string
}

// PresenceOptions configure StartPresence.
type PresenceOptions struct {
	DB   string // store DSN ("" : SQLite in the process's directory)
	Args []string
	NS   Namespace
}

// StartPresence starts cmd/presence on free loopback ports and waits for /healthz. It trusts
// 127.0.0.1 (the core's nodes) over ISC and as the XCAP authentication proxy.
func StartPresence(t testing.TB, b *Builder, o PresenceOptions) *PresenceAS {
	t.Helper()
	Need(t, b.Has("presence"), "cmd/presence not in the tree")
	bin := b.MustPath(t, "presence")
	n := &PresenceAS{SIP: Addr(FreePort(t)), HTTP: Addr(FreePort(t)), DB: o.DB}
	if n.DB == "" {
		n.DB = "sqlite://" + filepath.Join(t.TempDir(), "presence.db")
	}
	args := []string{"--sip-listen", n.SIP, "--http-listen", n.HTTP, "--db", n.DB, "--trusted-networks", "127.0.0.1/32",
		"--xcap-trusted-proxies", "127.0.0.1/32", "--log-level", "debug"}
	n.Process = StartProcessIn(t, o.NS, "presence", bin, append(args, o.Args...)...)
	n.WaitHTTP(fmt.Sprintf("http://%s/healthz", n.HTTP))
	return n
}

// UsePresenceIFC provisions the presence service with one command, `imsctl presence setup`
// (docs/presence.md): the iFCs of the "default" service profile send REGISTER (third-party) and
// PUBLISH/SUBSCRIBE of presence and presence.winfo to as, and the wildcarded PSI sip:rls-!.*!@Domain of
// the resource lists sends SUBSCRIBE to it. Call it after the users are provisioned (the profile
// exists) and before they register (a registered user would get a PPR).
func (h *HSS) UsePresenceIFC(t testing.TB, b *Builder, as string) {
	t.Helper()
	Imsctl(t, b, h, "presence", "setup", "--as", as, "--domain", Domain)
}
