package resolve

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// zoneServer is an authoritative DNS server over real UDP and TCP sockets on loopback, answering from the
// zone files in testdata (the same files the bind9 test gives named). It counts queries per name and type
// so that tests can see the cache work.
type zoneServer struct {
	addr string

	mu      sync.Mutex
	records map[string][]dns.RR // owner (lower case, FQDN) → records
	apexes  []string
	soa     map[string]dns.RR
	queries map[string]int // "name/TYPE" → count
	servers []*dns.Server
}

func loadZones(t testing.TB) (map[string][]dns.RR, map[string]dns.RR) {
	t.Helper()
	records := map[string][]dns.RR{}
	soa := map[string]dns.RR{}
	for _, z := range []struct{ file, origin string }{
		{"example.com.zone", "example.com."}, {"e164.arpa.zone", "e164.arpa."},
	} {
		f, err := os.Open(filepath.Join("testdata", z.file))
		if err != nil {
			t.Fatal(err)
		}
		zp := dns.NewZoneParser(f, z.origin, z.file)
		for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
			name := strings.ToLower(rr.Header().Name)
			records[name] = append(records[name], rr)
			if rr.Header().Rrtype == dns.TypeSOA {
				soa[name] = rr
			}
		}
		if err := zp.Err(); err != nil {
			t.Fatalf("%s: %v", z.file, err)
		}
		f.Close()
	}
	return records, soa
}

func startZoneServer(t testing.TB) *zoneServer {
	t.Helper()
	records, soa := loadZones(t)
	z := &zoneServer{records: records, soa: soa, queries: map[string]int{}}
	for apex := range soa {
		z.apexes = append(z.apexes, apex)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	z.addr = pc.LocalAddr().String()
	ln, err := net.Listen("tcp", z.addr)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: z}, {Listener: ln, Handler: z}} {
		z.servers = append(z.servers, s)
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go func() { _ = s.ActivateAndServe() }()
		<-started
	}
	t.Cleanup(func() {
		for _, s := range z.servers {
			_ = s.Shutdown()
		}
	})
	return z
}

func (z *zoneServer) count(name string, qt uint16) int {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.queries[strings.ToLower(dns.Fqdn(name))+"/"+dns.TypeToString[qt]]
}

func (z *zoneServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	z.mu.Lock()
	z.queries[name+"/"+dns.TypeToString[q.Qtype]]++
	z.mu.Unlock()
	owner := name
	for range 8 {
		rrs := z.records[owner]
		var cname *dns.CNAME
		for _, rr := range rrs {
			if c, ok := rr.(*dns.CNAME); ok && q.Qtype != dns.TypeCNAME {
				cname = c
			}
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			}
		}
		if cname == nil || len(m.Answer) > 0 {
			break
		}
		m.Answer = append(m.Answer, cname)
		owner = strings.ToLower(cname.Target)
	}
	if len(m.Answer) == 0 {
		if _, exists := z.records[name]; !exists && !z.hasDescendant(name) {
			m.Rcode = dns.RcodeNameError
		}
		for _, apex := range z.apexes {
			if dns.IsSubDomain(apex, name) {
				m.Ns = append(m.Ns, z.soa[apex])
			}
		}
	}
	_ = w.WriteMsg(m)
}

// hasDescendant tells whether name is an empty non-terminal (RFC 8020: NODATA, not NXDOMAIN).
func (z *zoneServer) hasDescendant(name string) bool {
	for owner := range z.records {
		if owner != name && dns.IsSubDomain(name, owner) {
			return true
		}
	}
	return false
}
