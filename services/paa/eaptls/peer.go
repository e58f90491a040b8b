package eaptls

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"

	"github.com/imscore/imscore/services/paa/eap"
)

// PeerConfig configures the EAP-TLS peer.
type PeerConfig struct {
	// Identity is the EAP identity: the IMPI its certificate names, or an anonymous NAI of its realm
	// ("anonymous@realm", "@realm") that keeps the IMPI out of the clear (RFC 9190 §2.1.8).
	Identity string
	// TLS holds the client certificate, RootCAs (the operator CA) and ServerName (the EAP server's name).
	TLS *tls.Config
	// Fragment is the TLS data per EAP-TLS packet (default DefaultFragment).
	Fragment int
}

// Peer is the handset's side of one EAP-TLS authentication. It is not safe for concurrent use; Close
// releases its TLS goroutine.
type Peer struct {
	identity string
	tls      *tls.Config
	frag     fragmenter
	drv      *driver
	keys     *Result
	success  bool
}

// NewPeer makes a peer. cfg.TLS is cloned.
func NewPeer(cfg PeerConfig) *Peer {
	c := cfg.TLS.Clone()
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS13
	}
	return &Peer{identity: cfg.Identity, tls: c, frag: fragmenter{size: cfg.Fragment}}
}

// Handle takes an EAP Request, Success or Failure and returns the Response to send (nil after Success or
// Failure). After Success, Result has the keys.
func (p *Peer) Handle(b []byte) ([]byte, error) {
	pk, err := eap.Parse(b)
	if err != nil {
		return nil, err
	}
	switch pk.Code {
	case eap.CodeSuccess:
		if p.keys == nil { // RFC 9190 §2.1.1: Success before the TLS exchange finished is not accepted
			return nil, fmt.Errorf("eap-tls: Success before the handshake finished: %w", ErrProtocol)
		}
		p.success = true
		return nil, nil
	case eap.CodeFailure:
		return nil, ErrRejected
	case eap.CodeResponse:
		return nil, fmt.Errorf("eap-tls: a Response sent to the peer: %w", ErrProtocol)
	}
	switch pk.Type {
	case eap.TypeIdentity:
		return p.respond(pk.ID, eap.TypeIdentity, []byte(p.identity)), nil
	case eap.TypeTLS:
	case eap.TypeNotification:
		return p.respond(pk.ID, eap.TypeNotification, nil), nil // RFC 3748 §5.2
	default:
		return p.respond(pk.ID, eap.TypeNak, []byte{byte(eap.TypeTLS)}), nil // RFC 3748 §5.3.1
	}
	fr, err := parseFrame(pk.Data)
	if err != nil {
		return nil, err
	}
	if fr.flags&FlagStart != 0 {
		if p.drv != nil {
			return nil, fmt.Errorf("eap-tls: a second Start: %w", ErrProtocol)
		}
		var hello []byte
		p.drv, hello, err = start(p.run)
		if err != nil {
			return nil, fmt.Errorf("eap-tls: ClientHello: %w", err)
		}
		p.frag.queue(hello)
		return p.tlsResponse(pk.ID, p.frag.next()), nil
	}
	if p.drv == nil {
		return nil, fmt.Errorf("eap-tls: TLS data before Start: %w", ErrProtocol)
	}
	if p.frag.pending() {
		return p.tlsResponse(pk.ID, p.frag.next()), nil
	}
	flight, complete, err := p.frag.receive(fr)
	if err != nil {
		return nil, err
	}
	if !complete {
		return p.tlsResponse(pk.ID, frame{}), nil
	}
	out, finished, err := p.drv.step(flight)
	if err != nil {
		return nil, fmt.Errorf("eap-tls: handshake: %w", err)
	}
	if finished {
		p.keys = p.drv.keys
	}
	if len(out) == 0 {
		return p.tlsResponse(pk.ID, frame{}), nil // RFC 5216 §2.1.1 / RFC 9190 §2.1.1: the final ack
	}
	p.frag.queue(out)
	return p.tlsResponse(pk.ID, p.frag.next()), nil
}

// run is the TLS client: the handshake, then under TLS 1.3 the server's commitment message (RFC 9190 §2.5).
func (p *Peer) run(c net.Conn) (*Result, error) {
	tc := tls.Client(c, p.tls)
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	cs := tc.ConnectionState()
	if cs.Version >= tls.VersionTLS13 {
		var b [1]byte
		if n, err := tc.Read(b[:]); err != nil || n != 1 || b[0] != 0 {
			return nil, fmt.Errorf("eap-tls: no commitment message (%d octets, %x): %w", n, b[:n], err)
		}
	}
	res, err := deriveKeys(cs)
	if err != nil {
		return nil, err
	}
	res.IMPI = p.identity
	if len(p.tls.Certificates) > 0 && len(p.tls.Certificates[0].Certificate) > 0 {
		if cert, err := x509.ParseCertificate(p.tls.Certificates[0].Certificate[0]); err == nil {
			if impi, err := IMPI(cert); err == nil {
				res.IMPI = impi // the identity may be anonymous (RFC 9190 §2.1.8)
			}
		}
	}
	return res, nil
}

// Result returns the keys after EAP-Success.
func (p *Peer) Result() (*Result, error) {
	if !p.success {
		return nil, fmt.Errorf("eap-tls: no EAP-Success yet: %w", ErrProtocol)
	}
	return p.keys, nil
}

func (p *Peer) respond(id uint8, t eap.Type, data []byte) []byte {
	return (&eap.Packet{Code: eap.CodeResponse, ID: id, Type: t, Data: data}).Marshal()
}

func (p *Peer) tlsResponse(id uint8, fr frame) []byte {
	return p.respond(id, eap.TypeTLS, fr.marshal())
}

// Close stops the TLS goroutine.
func (p *Peer) Close() { p.drv.close() }
