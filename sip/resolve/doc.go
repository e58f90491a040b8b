// Package resolve locates SIP servers by DNS as RFC 3263 specifies, and translates E.164 numbers to URIs by
// ENUM (RFC 6116). Every node that sends a request to a name rather than an address uses it: the P-CSCF to
// find the home network's I-CSCF from the REGISTER's Request-URI domain (TS 24.229 §5.2.2), the S-CSCF to
// reach another domain's I-CSCF and to translate tel: callees (TS 24.229 §5.4.3.2).
//
// The procedure, for a URI whose host is a name:
//
//   - transport (§4.1): the URI's transport parameter; else UDP (sip) or TLS (sips) when the URI has a port;
//     else the NAPTR records of the domain (RFC 3403), those whose service the client supports ("SIP+D2U",
//     "SIP+D2T", "SIPS+D2T"; only "SIPS+D2T" for a sips URI) and whose flag is "s", lowest order and then
//     preference first; without usable NAPTR records, an SRV query per supported transport in the client's
//     preference order, the first that has records winning; without those, UDP (sip) or TLS (sips);
//   - port and address (§4.2): the URI's port with the host's A/AAAA records; else the SRV records of the
//     transport (RFC 2782: lowest priority first, weighted random order within a priority), each target's
//     A/AAAA records; without SRV records, the host's A/AAAA records and port 5060 (5061 for TLS);
//   - failover (§4.3): Resolve returns every address in order; the caller tries the next one when a request
//     times out, fails at the transport, or is answered 503, and reports the failed one with MarkFailed, which
//     moves it behind the others until BlacklistFor has passed.
//
// TLS targets come only when Config.Transports lists tls (e.g. [tls, tcp, udp] on a node with sip.tls): Into
// hands them to sip/proxy, which checks the server's certificate against the domain queried, not against the
// SRV target (RFC 5922 §4, §7.3).
//
// Records are cached for their TTL (capped at MaxTTL); a name that does not exist or has no records of a
// type is cached for NegativeTTL (RFC 2308 §5, capped by the SOA's minimum when the answer carries one).
// Concurrent lookups of one name share one query. Static entries (Config.Static) answer for a domain without
// DNS, for labs.
package resolve
