// Package ipsec installs the IPsec security associations of IMS-AKA (TS 33.203 §7) in the Linux
// kernel through XFRM netlink: the four transport-mode ESP SAs between the UE's and the
// P-CSCF's protected ports, and the policies that force the SIP traffic of those port pairs
// through them. The P-CSCF uses it for its side of each registration, the UE simulator for the
// UE's side, each in its own network namespace.
//
// The SA table (which SA carries what, with which SPI) is on FlowID. Keys come from the AKA run
// (CK, IK) through the expansion of TS 33.203 Annex I: IntegrityKey, EncryptionKey.
//
// A Manager works on one network namespace. Everything it installs carries a reqid from its
// range (Config), which is how Flush and Remove recognise their own SAs and never touch
// another program's. Probe tells at start-up whether the kernel can do ESP at all: the
// development and CI kernels cannot (docs/design.md §5), so the tests that need ESP skip there and
// run in a VM with Debian's kernel (internal/vmtest, make test-ipsec).
//
// Supported: integrity hmac-sha-1-96 and hmac-md5-96, encryption aes-cbc, des-ede3-cbc and null,
// over IPv4 and IPv6, for UDP and TCP sharing the SAs (ProtoAny) or one of them. Not supported:
// UDP-encapsulated tunnel mode for UEs behind NAT (TS 33.203 Annex M), AEAD algorithms.
package ipsec
