package eaptls

import (
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/imscore/imscore/services/paa/eap"
)

// ErrRejected is an authentication that ended in EAP-Failure.
var ErrRejected = errors.New("eap-tls: authentication rejected")

// ServerConfig configures the EAP-TLS server.
type ServerConfig struct {
	// TLS holds the server certificate and ClientCAs, the operator CA that signs the UEs' certificates.
	// NewServer requires and verifies a client certificate whatever ClientAuth says.
	TLS *tls.Config
	// Fragment is the TLS data per EAP-TLS packet (default DefaultFragment).
	Fragment int
}

type serverState uint8

const (
	serverIdentity serverState = iota // Request/Identity sent
	serverTLS                         // EAP-TLS Start sent, handshake running
	serverFinal                       // TLS done, last flight sent, waiting for the peer's ack
	serverDone
)

// Server is one EAP-TLS authentication on the authenticator's side (RFC 5216 §2.1; RFC 9190 §2.1).
// It is not safe for concurrent use; Close releases its TLS goroutine.
type Server struct {
	tls      *tls.Config
	frag     fragmenter
	state    serverState
	id       uint8
	identity string
	drv      *driver
	res      *Result
}

// NewServer starts an authentication. cfg.TLS is cloned.
func NewServer(cfg ServerConfig) *Server {
	c := cfg.TLS.Clone()
	c.ClientAuth = tls.RequireAndVerifyClientCert
	c.SessionTicketsDisabled = true // RFC 9190 §2.1.2: resumption is not used here; no NewSessionTicket after the commitment
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS13
	}
	var id [1]byte
	_, _ = rand.Read(id[:])
	return &Server{tls: c, frag: fragmenter{size: cfg.Fragment}, id: id[0]}
}

// Start returns the first request, EAP-Request/Identity (RFC 3748 §5.1).
func (s *Server) Start() []byte {
	return (&eap.Packet{Code: eap.CodeRequest, ID: s.id, Type: eap.TypeIdentity}).Marshal()
}

// Identity is the EAP identity the peer gave, "" before it did.
func (s *Server) Identity() string { return s.identity }

// Handle takes the peer's EAP-Response and returns the next packet to send: a Request, or Success with the
// result, or Failure with an error saying why.
func (s *Server) Handle(b []byte) (out []byte, res *Result, err error) {
	p, err := eap.Parse(b)
	if err != nil {
		return s.fail(s.id, err)
	}
	if p.Code != eap.CodeResponse || p.ID != s.id {
		return s.fail(s.id, fmt.Errorf("eap-tls: %d with identifier %d, want a response to %d: %w", p.Code, p.ID, s.id, ErrProtocol))
	}
	switch s.state {
	case serverIdentity:
		if p.Type != eap.TypeIdentity {
			return s.fail(p.ID, fmt.Errorf("eap-tls: type %d, want Identity: %w", p.Type, ErrProtocol))
		}
		s.identity = string(p.Data)
		s.state = serverTLS
		return s.request(frame{flags: FlagStart}), nil, nil // RFC 5216 §2.1.1
	case serverTLS, serverFinal:
		if p.Type != eap.TypeTLS { // a Nak: the peer does not do EAP-TLS
			return s.fail(p.ID, fmt.Errorf("eap-tls: type %d in place of EAP-TLS: %w", p.Type, ErrProtocol))
		}
		fr, err := parseFrame(p.Data)
		if err != nil {
			return s.fail(p.ID, err)
		}
		if s.frag.pending() { // RFC 5216 §2.1.5: the peer acknowledges each fragment with an empty response
			if len(fr.data) != 0 {
				return s.fail(p.ID, fmt.Errorf("eap-tls: data in place of a fragment ack: %w", ErrProtocol))
			}
			return s.request(s.frag.next()), nil, nil
		}
		if s.state == serverFinal {
			if len(fr.data) != 0 {
				return s.fail(p.ID, fmt.Errorf("eap-tls: data after the handshake: %w", ErrProtocol))
			}
			s.state = serverDone
			return (&eap.Packet{Code: eap.CodeSuccess, ID: p.ID}).Marshal(), s.res, nil
		}
		return s.tlsData(p.ID, fr)
	}
	return s.fail(p.ID, fmt.Errorf("eap-tls: response after the end: %w", ErrProtocol))
}

func (s *Server) tlsData(id uint8, fr frame) ([]byte, *Result, error) {
	flight, complete, err := s.frag.receive(fr)
	if err != nil {
		return s.fail(id, err)
	}
	if !complete {
		return s.request(frame{}), nil, nil // ack the fragment
	}
	if s.drv == nil {
		s.drv, _, err = start(s.run)
		if err != nil {
			return s.fail(id, err)
		}
	}
	out, finished, err := s.drv.step(flight)
	if err != nil {
		return s.fail(id, fmt.Errorf("eap-tls: handshake with %q: %w", s.identity, err))
	}
	if finished {
		res := s.drv.keys
		if !identityMatches(s.identity, res.IMPI) {
			return s.fail(id, fmt.Errorf("eap-tls: EAP identity %q, certificate %q: %w", s.identity, res.IMPI, ErrIdentity))
		}
		s.res, s.state = res, serverFinal
	}
	if len(out) == 0 {
		return s.fail(id, fmt.Errorf("eap-tls: TLS has nothing to answer: %w", ErrProtocol))
	}
	s.frag.queue(out)
	return s.request(s.frag.next()), nil, nil
}

// run is the TLS server: the handshake, then the commitment message of TLS 1.3 (RFC 9190 §2.5: one octet
// of application data 0x00, "no more handshake messages").
func (s *Server) run(c net.Conn) (*Result, error) {
	tc := tls.Server(c, s.tls)
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	cs := tc.ConnectionState()
	impi, err := IMPI(cs.PeerCertificates[0])
	if err != nil {
		return nil, err
	}
	if cs.Version >= tls.VersionTLS13 {
		if _, err := tc.Write([]byte{0}); err != nil {
			return nil, fmt.Errorf("eap-tls: commitment message: %w", err)
		}
	}
	res, err := deriveKeys(cs)
	if err != nil {
		return nil, err
	}
	res.IMPI = impi
	return res, nil
}

func (s *Server) request(fr frame) []byte {
	s.id++
	return (&eap.Packet{Code: eap.CodeRequest, ID: s.id, Type: eap.TypeTLS, Data: fr.marshal()}).Marshal()
}

// fail ends the authentication with EAP-Failure, its Identifier that of the response (RFC 3748 §4.2).
func (s *Server) fail(id uint8, err error) ([]byte, *Result, error) {
	s.state = serverDone
	s.drv.close()
	return (&eap.Packet{Code: eap.CodeFailure, ID: id}).Marshal(), nil, fmt.Errorf("%w: %w", ErrRejected, err)
}

// Close stops the TLS goroutine.
func (s *Server) Close() { s.drv.close() }

// identityMatches accepts the IMPI itself or an anonymous NAI of its realm, "anonymous@realm" or "@realm"
// (RFC 9190 §2.1.8: the EAP identity goes in clear, the certificate under TLS 1.3 does not; RFC 7542 §2.4).
func identityMatches(identity, impi string) bool {
	if identity == impi {
		return true
	}
	at := strings.LastIndexByte(impi, '@')
	if at < 0 {
		return false
	}
	realm := impi[at:]
	return identity == realm || identity == "anonymous"+realm
}
