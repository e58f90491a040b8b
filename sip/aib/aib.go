// Package aib builds and verifies the Authenticated Identity Body of RFC 3893: a message/sipfrag holding the
// headers that identify a request (From, Call-ID, CSeq, Contact, Date), signed with S/MIME (CMS SignedData,
// RFC 5652) by the sender's certificate. The fast registration (docs/fastreg.md "Core side") carries one in
// the REGISTER that presents the access token: the S-CSCF checks that the operator's CA trusts the signer,
// that the signer is the registering user, that the fragment names this very request and that its Date is
// fresh.
//
// Two encodings are accepted (RFC 3893 §3, RFC 5751 §3.4, §3.5.3): multipart/signed with a detached
// application/pkcs7-signature (what Sign writes, RFC 3893's example) and application/pkcs7-mime
// smime-type=signed-data with the fragment inside the SignedData. CMS comes from github.com/smallstep/pkcs7.
package aib

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/smallstep/pkcs7"
)

// Errors; test with errors.Is. Every Verify error wraps ErrInvalid.
var (
	// ErrInvalid: the body is no AIB this package accepts (encoding, signature, trust, content).
	ErrInvalid = errors.New("aib: invalid authenticated identity body")
	// ErrUntrusted: the signature is sound but the signer's certificate does not chain to a trusted root.
	ErrUntrusted = fmt.Errorf("%w: signer not trusted", ErrInvalid)
	// ErrStale: the Date in the fragment is outside the window (RFC 3893 §10: replay protection).
	ErrStale = fmt.Errorf("%w: date outside the window", ErrInvalid)
	// ErrMismatch: the fragment does not describe the request it came with (RFC 3893 §5).
	ErrMismatch = fmt.Errorf("%w: fragment does not match the request", ErrInvalid)
)

// MaxBody bounds the AIB Verify accepts: a fragment of five headers and a signature with a short chain.
const MaxBody = 16 << 10

const (
	// ContentTypeSipfrag is the fragment's type (RFC 3420).
	ContentTypeSipfrag = "message/sipfrag"
	boundary           = "imscore-aib"
)

// Fragment is what a verified AIB says.
type Fragment struct {
	// Headers are the fragment's headers by canonical name (From, Call-ID, CSeq, Contact, Date, …).
	Headers map[string]string
	// Date is the parsed Date header.
	Date time.Time
	// Signer is the signing certificate, verified against the roots.
	Signer *x509.Certificate
	// Digest identifies the signed body for the replay cache (SHA-256 of the signature).
	Digest [sha256.Size]byte
}

// Request is what an AIB is matched against: the header values of the request carrying it.
type Request struct {
	From, CallID, CSeq, Contact string
}

// fragment returns the fragment Sign writes for r at date (RFC 3893 §3: From, To is optional, Contact,
// Date, Call-ID, CSeq).
func (r Request) fragment(date time.Time) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nCall-ID: %s\r\nCSeq: %s\r\nContact: %s\r\nDate: %s\r\n", r.From, r.CallID, r.CSeq,
		r.Contact, date.UTC().Format(http.TimeFormat))
	return b.Bytes()
}

// Sign returns the Content-Type and body of an AIB for r at date, signed with cert and key (an ECDSA or RSA
// key): multipart/signed, the fragment as its first part, the detached CMS signature base64 encoded as its
// second (RFC 3893 §3, RFC 5751 §3.5.3).
func Sign(r Request, date time.Time, cert *x509.Certificate, key crypto.Signer) (contentType string, body []byte, err error) {
	part := "Content-Type: " + ContentTypeSipfrag + "\r\nContent-Disposition: aib; handling=optional\r\n\r\n" + string(r.fragment(date))
	sd, err := pkcs7.NewSignedData([]byte(part))
	if err != nil {
		return "", nil, fmt.Errorf("aib sign: %w", err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSigner(cert, key, pkcs7.SignerInfoConfig{}); err != nil {
		return "", nil, fmt.Errorf("aib sign: %w", err)
	}
	sd.Detach()
	sig, err := sd.Finish()
	if err != nil {
		return "", nil, fmt.Errorf("aib sign: %w", err)
	}
	var b bytes.Buffer
	b.WriteString("--" + boundary + "\r\n" + part + "\r\n--" + boundary + "\r\n")
	b.WriteString("Content-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=smime.p7s; handling=required\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(sig)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--" + boundary + "--\r\n")
	return `multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary=` + boundary, b.Bytes(), nil
}

// Is reports whether contentType is one an AIB may have: the S-CSCF tries the fast registration only for a
// REGISTER carrying one.
func Is(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch mt {
	case "multipart/signed":
		return true
	case "application/pkcs7-mime":
		return strings.EqualFold(params["smime-type"], "signed-data") || params["smime-type"] == ""
	}
	return false
}

// Verifier checks AIBs. Roots must be set: a nil pool would let pkcs7 skip the chain check, so Verify refuses.
type Verifier struct {
	// Roots are the CAs whose certificates the operator trusts to sign AIBs.
	Roots *x509.CertPool
	// Window is how far the fragment's Date may be from now, either way (RFC 3893 §10 suggests a small
	// window, as RFC 4474 does: it bounds how long a captured AIB could be replayed).
	Window time.Duration
}

// Verify checks the signature, the signer's chain at now and the Date, and returns the fragment. It does
// not compare the fragment with the request: Fragment.Match does.
func (v *Verifier) Verify(contentType string, body []byte, now time.Time) (*Fragment, error) {
	if v.Roots == nil {
		return nil, fmt.Errorf("%w: no trusted roots configured", ErrInvalid)
	}
	if len(body) > MaxBody {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalid, len(body), MaxBody)
	}
	content, der, err := split(contentType, body)
	if err != nil {
		return nil, err
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrInvalid, err)
	}
	if content != nil {
		p7.Content = content // detached
	}
	if len(p7.Signers) != 1 {
		return nil, fmt.Errorf("%w: %d signers, want 1", ErrInvalid, len(p7.Signers))
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return nil, fmt.Errorf("%w: signer certificate missing", ErrInvalid)
	}
	// The signature alone first, so that a bad signature and an untrusted signer are told apart.
	if err := p7.VerifyWithChainAtTime(nil, now); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrInvalid, err)
	}
	if _, err := signer.Verify(x509.VerifyOptions{Roots: v.Roots, CurrentTime: now, Intermediates: intermediates(p7, signer),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	f, err := parseFragment(p7.Content)
	if err != nil {
		return nil, err
	}
	f.Signer = signer
	f.Digest = sha256.Sum256(der)
	if d := now.Sub(f.Date); d > v.Window || d < -v.Window {
		return nil, fmt.Errorf("%w: Date %s is %s from now (window %s)", ErrStale, f.Date.Format(time.RFC3339), d.Round(time.Second), v.Window)
	}
	return f, nil
}

func intermediates(p7 *pkcs7.PKCS7, leaf *x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range p7.Certificates {
		if !c.Equal(leaf) {
			pool.AddCert(c)
		}
	}
	return pool
}

// split returns the signed content (nil when it is inside the SignedData) and the CMS DER.
func split(contentType string, body []byte) (content, der []byte, err error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: Content-Type: %v", ErrInvalid, err)
	}
	switch mt {
	case "application/pkcs7-mime":
		return nil, decodeCMS(body), nil
	case "multipart/signed":
	default:
		return nil, nil, fmt.Errorf("%w: Content-Type %s", ErrInvalid, mt)
	}
	b := params["boundary"]
	if b == "" {
		return nil, nil, fmt.Errorf("%w: multipart/signed without boundary", ErrInvalid)
	}
	parts, err := multipartSplit(body, b)
	if err != nil {
		return nil, nil, err
	}
	if len(parts) != 2 {
		return nil, nil, fmt.Errorf("%w: multipart/signed with %d parts, want 2", ErrInvalid, len(parts))
	}
	hdr, sigBody, ok := bytes.Cut(parts[1], []byte("\r\n\r\n"))
	if !ok {
		return nil, nil, fmt.Errorf("%w: signature part without headers", ErrInvalid)
	}
	if !bytes.Contains(bytes.ToLower(hdr), []byte("pkcs7-signature")) {
		return nil, nil, fmt.Errorf("%w: second part is no application/pkcs7-signature", ErrInvalid)
	}
	return parts[0], decodeCMS(sigBody), nil
}

// decodeCMS returns b's DER: base64 when it decodes as such (Content-Transfer-Encoding: base64), else b
// itself (binary, RFC 3893 §3's example).
func decodeCMS(b []byte) []byte {
	if d, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), "")); err == nil && len(d) > 0 {
		return d
	}
	return b
}

// multipartSplit returns the parts of a multipart body exactly as they are between the delimiters (RFC 2046
// §5.1.1: the CRLF before a delimiter belongs to it), headers included: the first part of a multipart/signed
// is signed as it stands (RFC 1847 §2.1).
func multipartSplit(body []byte, boundary string) ([][]byte, error) {
	delim := []byte("--" + boundary)
	start := bytes.Index(body, delim)
	if start < 0 || (start > 0 && !bytes.HasSuffix(body[:start], []byte("\r\n"))) {
		return nil, fmt.Errorf("%w: no first delimiter", ErrInvalid)
	}
	rest := body[start+len(delim):]
	var parts [][]byte
	for {
		if !bytes.HasPrefix(rest, []byte("\r\n")) {
			return nil, fmt.Errorf("%w: delimiter not followed by CRLF", ErrInvalid)
		}
		rest = rest[2:]
		end := bytes.Index(rest, append([]byte("\r\n"), delim...))
		if end < 0 {
			return nil, fmt.Errorf("%w: part without closing delimiter", ErrInvalid)
		}
		parts = append(parts, rest[:end])
		rest = rest[end+2+len(delim):]
		if bytes.HasPrefix(rest, []byte("--")) {
			return parts, nil
		}
		if len(parts) > 4 {
			return nil, fmt.Errorf("%w: too many parts", ErrInvalid)
		}
	}
}

// parseFragment reads the signed MIME entity: its own headers (Content-Type message/sipfrag), an empty line,
// then the fragment (RFC 3420: an optional start line and headers).
func parseFragment(entity []byte) (*Fragment, error) {
	mimeHdr, frag, ok := bytes.Cut(entity, []byte("\r\n\r\n"))
	if !ok {
		return nil, fmt.Errorf("%w: signed entity without MIME headers", ErrInvalid)
	}
	if !bytes.Contains(bytes.ToLower(mimeHdr), []byte(ContentTypeSipfrag)) {
		return nil, fmt.Errorf("%w: signed entity is no %s", ErrInvalid, ContentTypeSipfrag)
	}
	f := &Fragment{Headers: map[string]string{}}
	for i, line := range strings.Split(string(frag), "\r\n") {
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			if i == 0 && strings.HasSuffix(line, "SIP/2.0") {
				continue // the request line (RFC 3420 §2 allows it)
			}
			return nil, fmt.Errorf("%w: fragment line %q", ErrInvalid, line)
		}
		f.Headers[canonical(name)] = strings.TrimSpace(value)
	}
	for _, h := range []string{"From", "Call-ID", "CSeq", "Contact", "Date"} {
		if f.Headers[h] == "" {
			return nil, fmt.Errorf("%w: fragment without %s (RFC 3893 §3)", ErrInvalid, h)
		}
	}
	d, err := http.ParseTime(f.Headers["Date"])
	if err != nil {
		return nil, fmt.Errorf("%w: Date %q: %v", ErrInvalid, f.Headers["Date"], err)
	}
	f.Date = d
	return f, nil
}

// canonical maps a header name, compact forms included (RFC 3261 §7.3.3), to the form Fragment uses.
func canonical(name string) string {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "from", "f":
		return "From"
	case "call-id", "i":
		return "Call-ID"
	case "cseq":
		return "CSeq"
	case "contact", "m":
		return "Contact"
	case "date":
		return "Date"
	case "to", "t":
		return "To"
	}
	return strings.TrimSpace(name)
}

// Match compares the fragment with the request that carried it (RFC 3893 §5: the AIB must describe this
// request): Call-ID exactly, CSeq number and method, From's URI and tag, Contact's URI. Display names and
// spacing, which proxies may re-encode, are not compared.
func (f *Fragment) Match(r Request) error {
	if f.Headers["Call-ID"] != strings.TrimSpace(r.CallID) {
		return fmt.Errorf("%w: Call-ID", ErrMismatch)
	}
	if strings.Join(strings.Fields(f.Headers["CSeq"]), " ") != strings.Join(strings.Fields(r.CSeq), " ") {
		return fmt.Errorf("%w: CSeq", ErrMismatch)
	}
	fu, ft := nameAddr(f.Headers["From"])
	ru, rt := nameAddr(r.From)
	if !strings.EqualFold(fu, ru) || ft != rt {
		return fmt.Errorf("%w: From", ErrMismatch)
	}
	fc, _ := nameAddr(f.Headers["Contact"])
	rc, _ := nameAddr(r.Contact)
	if !strings.EqualFold(fc, rc) {
		return fmt.Errorf("%w: Contact", ErrMismatch)
	}
	return nil
}

// nameAddr returns the URI of a name-addr or addr-spec header value and its tag parameter.
func nameAddr(v string) (uri, tag string) {
	v = strings.TrimSpace(v)
	params := ""
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			uri, params = v[i+1:i+j], v[i+j+1:]
		}
	} else {
		uri, params, _ = strings.Cut(v, ";")
		params = ";" + params
	}
	for _, p := range strings.Split(params, ";") {
		if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "tag") {
			tag = val
		}
	}
	return strings.TrimSpace(uri), tag
}

// SignerIs reports whether the signer's certificate names one of ids (the IMPI, the IMPU): in its Subject
// CommonName or a subjectAltName (URI, rfc822Name, DNS), compared case-insensitively, a "sip:" prefix
// ignored.
func (f *Fragment) SignerIs(ids ...string) bool {
	c := f.Signer
	names := append([]string{c.Subject.CommonName}, c.EmailAddresses...)
	names = append(names, c.DNSNames...)
	for _, u := range c.URIs {
		names = append(names, u.String())
	}
	norm := func(s string) string { return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "sip:")) }
	for _, n := range names {
		for _, id := range ids {
			if id != "" && norm(n) == norm(id) {
				return true
			}
		}
	}
	return false
}
