package peer

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/imscore/imscore/diameter"
)

// AllowedPeer is a peer whose connections this node accepts (Config.Peers). RFC 6733 §5.6.1 makes
// the Origin-Host of the CER the identity of an incoming connection; network domain security (TS
// 33.210, and RFC 6733 §2.2, §13) has a node talk only to the nodes of its security domain. The yaml
// tags are the configuration file format every node uses under diameter.peers.
type AllowedPeer struct {
	// Host is the Origin-Host the peer must announce in its CER (RFC 6733 §6.3), compared
	// case-insensitively (a DiameterIdentity is an FQDN, §4.3.1). Over TLS its certificate must
	// name it (a DNS subjectAltName).
	Host string `yaml:"origin_host"`
	// Realm is the Origin-Realm it must announce (RFC 6733 §6.4), compared case-insensitively.
	Realm string `yaml:"origin_realm"`
	// Sources are the addresses its connections may come from: IP addresses or CIDR prefixes
	// ("192.0.2.11", "10.0.0.0/24", "::1"). At least one; "0.0.0.0/0" and "::/0" accept any.
	Sources []string `yaml:"sources"`
	// Roles say what the peer is to this node ("icscf", "scscf", "hss"): Config.Permissions maps
	// each role to the requests a peer with it may send.
	Roles []string `yaml:"roles"`
}

// Validate reports what is wrong with p.
func (p AllowedPeer) Validate() error {
	if err := validIdentity(p.Host); err != nil {
		return fmt.Errorf("origin_host: %w", err)
	}
	if err := validIdentity(p.Realm); err != nil {
		return fmt.Errorf("origin_realm: %w", err)
	}
	if len(p.Sources) == 0 {
		return errors.New("sources: empty: name the addresses the peer connects from (0.0.0.0/0 and ::/0 accept any)")
	}
	for i, s := range p.Sources {
		if _, err := ParseSource(s); err != nil {
			return fmt.Errorf("sources[%d]: %w", i, err)
		}
	}
	for i, r := range p.Roles {
		if strings.TrimSpace(r) == "" {
			return fmt.Errorf("roles[%d]: empty", i)
		}
	}
	return nil
}

// ParseSource parses an AllowedPeer source: a CIDR prefix, or an IP address (a prefix of its full length).
func ParseSource(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q: want an IP address or a CIDR prefix: %w", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q: want an IP address or a CIDR prefix: %w", s, err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Command names a request: its Application-Id and Command-Code (RFC 6733 §3).
type Command struct {
	App, Code uint32
}

// allowedPeer is an AllowedPeer with its sources parsed.
type allowedPeer struct {
	AllowedPeer
	sources []netip.Prefix
}

// compilePeers parses the sources of validated AllowedPeers.
func compilePeers(peers []AllowedPeer) ([]allowedPeer, error) {
	out := make([]allowedPeer, 0, len(peers))
	for i, p := range peers {
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("%w: Peers[%d] (%s): %w", ErrInvalidConfig, i, p.Host, err)
		}
		ap := allowedPeer{AllowedPeer: p}
		ap.Roles = slices.Clone(p.Roles)
		for _, s := range p.Sources {
			pfx, _ := ParseSource(s)
			ap.sources = append(ap.sources, pfx)
		}
		out = append(out, ap)
	}
	return out, nil
}

// acceptPeer decides whether the CER caps received on the accepted connection c comes from a
// configured peer, and returns its roles. A refusal is DIAMETER_UNKNOWN_PEER: "A CER was received
// from an unknown peer" (RFC 6733 §7.1.3).
func (n *Node) acceptPeer(c *conn, caps capabilities) ([]string, *diameter.Error) {
	src := c.remoteAddr()
	for _, p := range n.peers {
		if !strings.EqualFold(p.Host, caps.host) {
			continue
		}
		if !strings.EqualFold(p.Realm, caps.realm) {
			return nil, diameter.Errorf(diameter.UnknownPeer, "peer %s announces Origin-Realm %s, configured %s", caps.host, caps.realm, p.Realm)
		}
		if !slices.ContainsFunc(p.sources, func(pfx netip.Prefix) bool { return src.IsValid() && pfx.Contains(src) }) {
			return nil, diameter.Errorf(diameter.UnknownPeer, "peer %s connects from %s, not from a configured source", caps.host, src)
		}
		if tc, ok := c.nc.(*tls.Conn); ok {
			// The certificate was verified against the CAs during the handshake; it must also name
			// the identity the peer claims, or any peer of the PKI could claim any Origin-Host.
			st := tc.ConnectionState()
			if len(st.PeerCertificates) == 0 {
				return nil, diameter.Errorf(diameter.UnknownPeer, "peer %s presented no TLS certificate", caps.host)
			}
			leaf := st.PeerCertificates[0]
			if err := leaf.VerifyHostname(caps.host); err != nil {
				return nil, diameter.Errorf(diameter.UnknownPeer, "TLS certificate of %s names %v, not its Origin-Host", caps.host, leaf.DNSNames)
			}
		}
		return p.Roles, nil
	}
	return nil, diameter.Errorf(diameter.UnknownPeer, "Origin-Host %s is not a configured peer", caps.host)
}

// authorize decides whether the peer of c may send command (app, code): with Config.Permissions
// set, an application request must be listed for one of the peer's roles. A command listed for no
// role at all is one this node does not serve: DIAMETER_COMMAND_UNSUPPORTED (RFC 6733 §7.1.3). A
// command served here but not for this peer's roles is DIAMETER_AUTHORIZATION_REJECTED (§7.1.5:
// "the service requested is not permitted"), a permanent failure: the request is well formed and
// supported, and no other peer or retry changes the answer.
func (n *Node) authorize(roles []string, app, code uint32) *diameter.Error {
	if n.cfg.Permissions == nil || app == 0 {
		return nil
	}
	cmd := Command{App: app, Code: code}
	served := false
	for role, cmds := range n.cfg.Permissions {
		if !slices.Contains(cmds, cmd) {
			continue
		}
		served = true
		if slices.Contains(roles, role) {
			return nil
		}
	}
	if !served {
		return diameter.Errorf(diameter.CommandUnsupported, "command %d of application %d is not served by this node", code, app)
	}
	return diameter.Errorf(diameter.AuthorizationRejected, "command %d of application %d may not be sent by a peer with roles %v", code, app, roles)
}

// remoteAddr is the connection's remote IP address (unmapped), or the zero Addr.
func (c *conn) remoteAddr() netip.Addr {
	if ap, err := netip.ParseAddrPort(c.remote); err == nil {
		return ap.Addr().Unmap()
	}
	if host, _, err := net.SplitHostPort(c.remote); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// WithRoles returns a copy of peers in which an entry that names no role has roles: a node whose peers can
// have only one role (a CSCF's peer is an HSS) lets its configuration leave them out.
func WithRoles(peers []AllowedPeer, roles ...string) []AllowedPeer {
	out := make([]AllowedPeer, len(peers))
	for i, p := range peers {
		if len(p.Roles) == 0 {
			p.Roles = roles
		}
		out[i] = p
	}
	return out
}

// CheckPeers reports what is wrong with the Diameter trust settings of a node's configuration file, each
// error naming its key under diameter: a listener (listen) with no peer would refuse every CER; each peer
// must be valid and name only roles among roles; TLS needs its three files and, for the peer this node
// dials, the Origin-Host its certificate must name (dialHost, its key named by dialHostKey).
func CheckPeers(listen string, peers []AllowedPeer, files TLSFiles, dialHost, dialHostKey string, roles ...string) []error {
	var errs []error
	if listen != "" && len(peers) == 0 {
		errs = append(errs, fmt.Errorf("diameter.peers: empty with diameter.listen %s: every CER would be refused; list the peers that may connect", listen))
	}
	for i, p := range peers {
		if err := p.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("diameter.peers[%d]: %w", i, err))
		}
		for _, r := range p.Roles {
			if !slices.Contains(roles, r) {
				errs = append(errs, fmt.Errorf("diameter.peers[%d].roles: %q: want one of %v", i, r, roles))
			}
		}
	}
	if err := files.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("diameter.tls: %w", err))
	}
	if files.Enabled() && dialHost == "" {
		errs = append(errs, fmt.Errorf("diameter.%s: required with diameter.tls: the HSS's certificate must name it", dialHostKey))
	}
	return errs
}
