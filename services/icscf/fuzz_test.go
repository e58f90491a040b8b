package icscf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzRequestIdentities feeds arbitrary requests through everything the router reads from a request before
// any Cx query: none of it may panic, and an identity it returns is never empty.
func FuzzRequestIdentities(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.sip")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := sip.ParseMessage(data)
		if err != nil {
			return
		}
		req, ok := m.(*sip.Request)
		if !ok {
			return
		}
		if id, err := publicIdentity(&req.Recipient); err == nil && id == "" {
			t.Fatal("empty identity without error")
		}
		if id, err := originatingIdentity(req); err == nil && id == "" {
			t.Fatal("empty originating identity without error")
		}
		if to := req.To(); to != nil {
			if impu, err := publicIdentity(&to.Address); err == nil {
				if privateIdentity(req, impu, testDomain) == "" {
					t.Fatal("empty IMPI")
				}
			}
		}
		if visitedNetwork(req, testDomain) == "" {
			t.Fatal("empty visited network")
		}
		_ = isDeregistration(req)
		_ = inDialog(req)
	})
}

// The seeds decode as the router expects: a table over testdata/.
func TestSeedRequests(t *testing.T) {
	tests := []struct {
		file, identity, impi, visited string
		dereg                         bool
	}{
		{"register.sip", "sip:ims.mnc001.mcc001.3gppnetwork.org", "001010000000001@" + testDomain, "Visited Network 1", false},
		{"deregister_star.sip", "sip:ims.mnc001.mcc001.3gppnetwork.org", "+15550000001@" + testDomain, testDomain, true},
		{"invite_tel_orig.sip", "tel:+15550000002", "+15550000002@" + testDomain, testDomain, false},
		{"message_user_phone.sip", "tel:+15550000002", "+15550000002@" + testDomain, testDomain, false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			req := parseRequest(t, string(b))
			id, err := publicIdentity(&req.Recipient)
			if err != nil || id != tt.identity {
				t.Errorf("Request-URI identity %q %v, want %q", id, err, tt.identity)
			}
			impu, err := publicIdentity(&req.To().Address)
			if err != nil {
				t.Fatal(err)
			}
			if got := privateIdentity(req, impu, testDomain); got != tt.impi {
				t.Errorf("IMPI %q, want %q", got, tt.impi)
			}
			if got := visitedNetwork(req, testDomain); got != tt.visited {
				t.Errorf("visited %q, want %q", got, tt.visited)
			}
			if got := isDeregistration(req); got != tt.dereg {
				t.Errorf("de-registration %v, want %v", got, tt.dereg)
			}
		})
	}
}
