package pcscf

import (
	"context"
	"testing"

	"github.com/imscore/imscore/sip/ue"
)

// BenchmarkRegister: one sec-agree UE registers (unprotected REGISTER, 401 with SAs, protected
// REGISTER, 200) and de-registers per iteration, over UDP through the P-CSCF and the fake core.
func BenchmarkRegister(b *testing.B) {
	alice := newSubscriber(b, 1)
	core := startFakeCore(b, "127.0.0.1:0", alice)
	// De-registered SA sets go after DeregDelay; a wide pool keeps a fast loop from exhausting it.
	n := startPCSCF(b, "127.0.0.1", core.addr, newFakeSAs(), func(c *Config) {
		c.DeregDelay = 0
		c.ClientPorts = PortRange{First: freeRange(b, "127.0.0.1", 32), Count: 32}
		c.ServerPorts = PortRange{First: freeRange(b, "127.0.0.1", 32), Count: 32}
		for overlap(c.ClientPorts, c.ServerPorts) {
			c.ServerPorts.First = freeRange(b, "127.0.0.1", 32)
		}
	})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		u, err := ue.New(ue.Config{IMPI: alice.impi, IMPU: alice.impu, PCSCF: n.CoreAddr(), Keys: alice.keys, SecAgree: true}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := u.Register(ctx); err != nil {
			b.Fatal(err)
		}
		if err := u.Deregister(ctx); err != nil {
			b.Fatal(err)
		}
		u.Close()
	}
}
