package n5

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Nbsf_Management discovery (TS 29.521 §4.2.4.2, retrieve the PCF binding information for a PDU session: GET on
// the PCF for a PDU Session Bindings collection, §5.3.2.3.2): the BSF knows which PCF holds each PDU session
// (the PCF registered the binding when the SMF created its SM policy association), so an AF that serves UEs of
// several PCFs asks it by the UE's address.

// bsfPrefix is the Nbsf_Management API root path (API version 1).
const bsfPrefix = "/nbsf-management/v1"

// PcfBinding is the part of a PCF session binding (TS 29.521 PcfBinding) the AF reads: who the UE is and
// where its PCF's Npcf_PolicyAuthorization service is.
type PcfBinding struct {
	Supi           string       `json:"supi,omitempty"`
	Gpsi           string       `json:"gpsi,omitempty"`
	Ipv4Addr       string       `json:"ipv4Addr,omitempty"`
	Ipv6Prefix     string       `json:"ipv6Prefix,omitempty"`
	Dnn            string       `json:"dnn"`
	PcfFqdn        string       `json:"pcfFqdn,omitempty"`
	PcfIPEndPoints []IPEndPoint `json:"pcfIpEndPoints,omitempty"`
	PcfDiamHost    string       `json:"pcfDiamHost,omitempty"`
	PcfDiamRealm   string       `json:"pcfDiamRealm,omitempty"`
	Snssai         *Snssai      `json:"snssai"`
	PcfID          string       `json:"pcfId,omitempty"`
}

// IPEndPoint is TS 29.510 IpEndPoint: an address and port of an NF service.
type IPEndPoint struct {
	Ipv4Address string `json:"ipv4Address,omitempty"`
	Ipv6Address string `json:"ipv6Address,omitempty"`
	Transport   string `json:"transport,omitempty"`
	Port        int    `json:"port,omitempty"`
}

// Snssai is TS 29.571 Snssai.
type Snssai struct {
	Sst int    `json:"sst"`
	Sd  string `json:"sd,omitempty"`
}

// BSF is a Nbsf_Management client for discovery. Safe for concurrent use.
type BSF struct {
	apiRoot   string
	pcfScheme string // of the PCF API roots it builds: that of the Npcf client (one transport)
	http      *http.Client
}

// NewBSF returns a client of the BSF at apiRoot ("http://bsf:7777" h2c, or "https://…"); the PCF API roots it
// finds get pcfScheme ("http" or "https").
func NewBSF(apiRoot, pcfScheme string, tlsConfig *tls.Config) (*BSF, error) {
	apiRoot = strings.TrimSuffix(apiRoot, "/")
	hc, err := sbiClient(apiRoot, tlsConfig)
	if err != nil {
		return nil, fmt.Errorf("nbsf: %w", err)
	}
	if pcfScheme != "http" && pcfScheme != "https" {
		return nil, fmt.Errorf("nbsf: PCF scheme %q: want http or https", pcfScheme)
	}
	return &BSF{apiRoot: apiRoot, pcfScheme: pcfScheme, http: hc}, nil
}

// Close releases the client's idle connections.
func (b *BSF) Close() { b.http.CloseIdleConnections() }

// Discover asks for the PCF session binding of the UE at ue (ipv4Addr, or ipv6Prefix as the /128 of the
// address). ok is false when the BSF has none (204).
func (b *BSF) Discover(ctx context.Context, ue netip.Addr) (binding PcfBinding, ok bool, err error) {
	q := url.Values{}
	if ue = ue.Unmap(); ue.Is4() {
		q.Set("ipv4Addr", ue.String())
	} else {
		q.Set("ipv6Prefix", netip.PrefixFrom(ue, 128).String())
	}
	uri := b.apiRoot + bsfPrefix + "/pcfBindings?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return PcfBinding{}, false, fmt.Errorf("nbsf GET %s: %w", uri, err)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	res, err := b.http.Do(req)
	if err != nil {
		return PcfBinding{}, false, fmt.Errorf("nbsf GET %s: %w", uri, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return PcfBinding{}, false, fmt.Errorf("nbsf GET %s: %w", uri, err)
	}
	switch res.StatusCode {
	case http.StatusNoContent:
		return PcfBinding{}, false, nil
	case http.StatusOK:
	default:
		pe := &ProblemError{Status: res.StatusCode}
		_ = json.Unmarshal(raw, &pe.Problem)
		return PcfBinding{}, false, fmt.Errorf("nbsf GET %s: %w", uri, pe)
	}
	if err := json.Unmarshal(raw, &binding); err != nil {
		return PcfBinding{}, false, fmt.Errorf("nbsf GET %s: PcfBinding: %w", uri, err)
	}
	return binding, true, nil
}

// PCFRoot is the API root of the PCF holding ue's PDU session (Locator): the first of pcfIpEndPoints, else
// pcfFqdn (port 80 or 443 by scheme, TS 29.500 §5.2.2); "" when the BSF has no binding or one without either.
func (b *BSF) PCFRoot(ctx context.Context, ue netip.Addr) (string, error) {
	binding, ok, err := b.Discover(ctx, ue)
	if err != nil || !ok {
		return "", err
	}
	return b.rootOf(binding), nil
}

func (b *BSF) rootOf(binding PcfBinding) string {
	port := 80
	if b.pcfScheme == "https" {
		port = 443
	}
	for _, ep := range binding.PcfIPEndPoints {
		host := ep.Ipv4Address
		if host == "" {
			host = ep.Ipv6Address
		}
		if host == "" {
			continue
		}
		p := port
		if ep.Port > 0 && ep.Port < 65536 {
			p = ep.Port
		}
		return b.pcfScheme + "://" + net.JoinHostPort(host, strconv.Itoa(p))
	}
	if binding.PcfFqdn != "" {
		return b.pcfScheme + "://" + net.JoinHostPort(binding.PcfFqdn, strconv.Itoa(port))
	}
	return ""
}
