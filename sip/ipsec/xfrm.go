package ipsec

import (
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
)

// replayWindow is the anti-replay window of every SA, in packets (RFC 4303 §3.4.3). 32 is
// what Kamailio's ims_ipsec_pcscf and the Linux tools use.
const replayWindow = 32

// sessionKeys are the ESP keys of one SA set, derived once per Install.
type sessionKeys struct {
	authName, cryptName string
	auth, crypt         []byte
}

func deriveKeys(p Pair) (sessionKeys, error) {
	var k sessionKeys
	var err error
	if k.authName, err = kernelAuthName(p.Algs.Integrity); err != nil {
		return k, err
	}
	if k.cryptName, err = kernelCryptName(p.Algs.Encryption); err != nil {
		return k, err
	}
	if k.auth, err = IntegrityKey(p.Algs.Integrity, p.IK); err != nil {
		return k, err
	}
	if k.crypt, err = EncryptionKey(p.Algs.Encryption, p.CK); err != nil {
		return k, err
	}
	return k, nil
}

// hostNet is the /32 or /128 prefix of a. Pitfall: an IPv6 selector needs Src and Dst set, or
// netlink v1.3.1 (selFromPolicy) defaults its family to IPv4.
func hostNet(a netip.Addr) *net.IPNet {
	a = a.Unmap()
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}
}

func ipOf(a netip.Addr) net.IP { return net.IP(a.Unmap().AsSlice()) }

// lifetimeSeconds converts a lifetime to the kernel's hard-add-expires seconds; 0 is "never".
func lifetimeSeconds(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64((d + time.Second - 1) / time.Second)
}

// stateID is what identifies an SA in the kernel: destination, SPI and protocol (RFC 4301
// §4.1); the source narrows the lookup. Enough for get and delete.
func stateID(f Flow) *netlink.XfrmState {
	return &netlink.XfrmState{
		Src:   ipOf(f.Src.Addr()),
		Dst:   ipOf(f.Dst.Addr()),
		Proto: netlink.XFRM_PROTO_ESP,
		Spi:   int(f.SPI),
	}
}

// buildState is the transport-mode ESP SA for one flow (TS 33.203 §7.1: ESP, transport mode
// without NAT, integrity always, encryption as negotiated), with a selector on the port pair.
func buildState(f Flow, proto Proto, reqid uint32, k sessionKeys, hardSeconds uint64) *netlink.XfrmState {
	st := stateID(f)
	st.Mode = netlink.XFRM_MODE_TRANSPORT
	st.Reqid = int(reqid)
	st.ReplayWindow = replayWindow
	st.Auth = &netlink.XfrmStateAlgo{Name: k.authName, Key: k.auth, TruncateLen: icvBits}
	st.Crypt = &netlink.XfrmStateAlgo{Name: k.cryptName, Key: k.crypt}
	st.Limits.TimeHard = hardSeconds
	st.Selector = &netlink.XfrmPolicy{
		Src:     hostNet(f.Src.Addr()),
		Dst:     hostNet(f.Dst.Addr()),
		Proto:   netlink.Proto(proto),
		SrcPort: int(f.Src.Port()),
		DstPort: int(f.Dst.Port()),
	}
	return st
}

// policySelector is the selector and direction of the policy of flow f for one protocol: all
// that the kernel needs to find it again.
func policySelector(f Flow, proto Proto, dir netlink.Dir) *netlink.XfrmPolicy {
	return &netlink.XfrmPolicy{
		Src:     hostNet(f.Src.Addr()),
		Dst:     hostNet(f.Dst.Addr()),
		Proto:   netlink.Proto(proto),
		SrcPort: int(f.Src.Port()),
		DstPort: int(f.Dst.Port()),
		Dir:     dir,
	}
}

// buildPolicy requires ESP with exactly this SA (SPI and reqid in the template) for the flow:
// outbound packets of the flow are encrypted with it, inbound ones are accepted only if they
// came through it — a plaintext packet on the protected port pair is dropped.
func buildPolicy(f Flow, proto Proto, dir netlink.Dir, reqid uint32) *netlink.XfrmPolicy {
	pol := policySelector(f, proto, dir)
	pol.Action = netlink.XFRM_POLICY_ALLOW
	pol.Tmpls = []netlink.XfrmPolicyTmpl{{
		Src:   ipOf(f.Src.Addr()),
		Dst:   ipOf(f.Dst.Addr()),
		Proto: netlink.XFRM_PROTO_ESP,
		Mode:  netlink.XFRM_MODE_TRANSPORT,
		Spi:   int(f.SPI),
		Reqid: int(reqid),
	}}
	return pol
}

func policyDir(f Flow, side Side) netlink.Dir {
	if f.Outbound(side) {
		return netlink.XFRM_DIR_OUT
	}
	return netlink.XFRM_DIR_IN
}

func dirName(d netlink.Dir) string {
	switch d {
	case netlink.XFRM_DIR_IN:
		return "in"
	case netlink.XFRM_DIR_OUT:
		return "out"
	case netlink.XFRM_DIR_FWD:
		return "fwd"
	}
	return "socket"
}

// addrFromIP converts a kernel address (IPv4 comes back as IPv4-mapped IPv6) to netip.
func addrFromIP(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}
