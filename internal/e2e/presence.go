package e2e

import (
	"fmt"
	"os"
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

// PresenceEvent matches the Event header of the presence package and its watcher information
// (presence.winfo, RFC 3857), not other packages whose names start alike.
const PresenceEvent = `^\s*presence(\.winfo)?\s*(;.*)?$`

// PresenceProfile is the "default" service profile with the iFCs of the presence service
// (docs/presence.md): REGISTER of every kind to the AS (third-party registration, TS 24.229 §5.4.1.7),
// and PUBLISH or SUBSCRIBE with Event: presence or presence.winfo, for the served user as the terminating party, to the AS
// (TS 24.141 §5.5: the presentity's S-CSCF hands them to its presence server).
func PresenceProfile(as string) string {
	return fmt.Sprintf(`{"id": "default", "ifcs": [
  {"priority": 10, "trigger_point": {"condition_type_cnf": false, "spt": [
     {"group": [0], "method": "REGISTER", "registration_types": ["INITIAL_REGISTRATION", "RE-REGISTRATION", "DE-REGISTRATION"]}]},
   "application_server": {"server_name": %[1]q, "default_handling": "SESSION_CONTINUED", "service_info": "presence"}},
  {"priority": 20, "trigger_point": {"condition_type_cnf": true, "spt": [
     {"group": [0], "method": "PUBLISH"}, {"group": [0], "method": "SUBSCRIBE"},
     {"group": [1], "sip_header": {"header": "Event", "content": %[2]q}},
     {"group": [2], "session_case": "TERMINATING_REGISTERED"}, {"group": [2], "session_case": "TERMINATING_UNREGISTERED"}]},
   "application_server": {"server_name": %[1]q, "default_handling": "SESSION_TERMINATED"}}
]}`, as, PresenceEvent)
}

// UsePresenceIFC replaces the HSS's default service profile with PresenceProfile(as) through imsctl.
// Call it before the users register (a registered user would get a PPR).
func (h *HSS) UsePresenceIFC(t testing.TB, b *Builder, as string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "presence-profile.json")
	if err := os.WriteFile(f, []byte(PresenceProfile(as)), 0o600); err != nil {
		t.Fatal(err)
	}
	Imsctl(t, b, h, "profile", "update", "--file", f)
}
