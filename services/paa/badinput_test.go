package paa_test

import (
	"net"
	"testing"
	"time"

	"github.com/imscore/imscore/services/paa"
	"github.com/imscore/imscore/services/paa/pac"
	"github.com/imscore/imscore/services/paa/pana"
)

// TestPANABadInput: garbage, messages for no session, a PCI with the R flag and a PaC that goes silent
// after the PCI cost the PAA nothing lasting: the half-open session ends at auth_timeout and a real PaC
// still authenticates.
func TestPANABadInput(t *testing.T) {
	l := startPAA(t, []string{"127.0.0.1:0"}, func(c *paa.Config) {
		c.AuthTimeout = 500 * time.Millisecond
		c.Retransmit = pana.Retransmit{IRT: 50 * time.Millisecond, MRT: 50 * time.Millisecond, MRC: 1000}
	})
	addr := l.node.Addrs()[0]
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pci, _ := (&pana.Message{Type: pana.TypeClientInitiation}).Marshal()
	badPCI, _ := (&pana.Message{Flags: pana.FlagRequest, Type: pana.TypeClientInitiation}).Marshal()
	stray, _ := (&pana.Message{Flags: pana.FlagRequest, Type: pana.TypeTermination, SessionID: 42, Seq: 1}).Marshal()
	for _, b := range [][]byte{{}, {0, 0, 0, 5}, []byte("not pana at all, but long enough"), badPCI, stray, pci} {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	ctx := ctxT(t)
	deadline := time.Now().Add(20 * time.Second)
	for l.node.Sessions() == 0 && time.Now().Before(deadline) { // the PCI's session, never answered
		time.Sleep(10 * time.Millisecond)
	}
	if l.node.Sessions() != 1 {
		t.Fatalf("%d sessions after one PCI", l.node.Sessions())
	}
	for l.node.Sessions() != 0 && time.Now().Before(deadline) { // retransmitting the PAR until auth_timeout
		time.Sleep(10 * time.Millisecond)
	}
	if l.node.Sessions() != 0 {
		t.Fatal("the silent PaC's session outlived auth_timeout")
	}
	s, err := pac.Authenticate(ctx, l.pacConfig(addr))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
