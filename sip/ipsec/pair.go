package ipsec

import (
	"fmt"
	"net/netip"
)

// Side says which end of the SA set this namespace is: the P-CSCF or the UE. It decides which
// of the four SAs are outbound (dir out policies) and which inbound (dir in policies).
type Side uint8

// The two ends of an IMS-AKA SA set (TS 33.203 §7).
const (
	SidePCSCF Side = 1
	SideUE    Side = 2
)

func (s Side) String() string {
	switch s {
	case SidePCSCF:
		return "pcscf"
	case SideUE:
		return "ue"
	}
	return fmt.Sprintf("side(%d)", uint8(s))
}

// Proto is the transport protocol the SAs carry, with its IANA protocol number as value.
type Proto uint8

const (
	// ProtoAny: UDP and TCP share the SA set, the usual IMS case (TS 33.203 §7.1 lists the
	// transport protocols sharing the SA among the selectors, and TS 24.229 lets SIP switch to
	// TCP for large requests on the same protected ports). The states carry no protocol
	// selector and each SA gets one policy for UDP and one for TCP, so that nothing else
	// (ICMP) is forced through ESP.
	ProtoAny Proto = 0
	ProtoTCP Proto = 6  // TCP only
	ProtoUDP Proto = 17 // UDP only
)

func (p Proto) String() string {
	switch p {
	case ProtoAny:
		return "udp+tcp"
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	}
	return fmt.Sprintf("proto(%d)", uint8(p))
}

// policyProtos are the protocols that get a policy for each SA.
func (p Proto) policyProtos() []Proto {
	if p == ProtoAny {
		return []Proto{ProtoUDP, ProtoTCP}
	}
	return []Proto{p}
}

// Endpoint is one end's half of the sec-agree parameters (RFC 3329 §2.3 "spi-c", "spi-s",
// "port-c", "port-s"): the UE's from its Security-Client, the P-CSCF's from its Security-Server.
//
// SPIC is the SPI of the SA arriving at this end's PortC, SPIS that of the SA arriving at its
// PortS: an SPI is always chosen by the receiver of the SA (TS 33.203 §7.1, "SPI is allocated
// locally for inbound SAs").
type Endpoint struct {
	Addr  netip.Addr
	PortC uint16 // protected client port: sends requests, receives their responses
	PortS uint16 // protected server port: receives requests, sends their responses
	SPIC  uint32
	SPIS  uint32
}

// Pair describes one IMS-AKA SA set: both endpoints, the negotiated algorithms and the keys
// from the AKA run (the ck= and ik= of the 401, TS 33.203 §6.1).
type Pair struct {
	UE, PCSCF Endpoint
	Algs      Algorithms
	IK, CK    [16]byte
	Proto     Proto
}

// FlowID names the four unidirectional SAs of a set.
type FlowID uint8

// The four SAs of TS 33.203 §7.1 (the figure there shows the same four arrows). The SPI of
// each is the one its receiver put in its own header (Security-Client for the UE,
// Security-Server for the P-CSCF), for the port the SA arrives at:
//
//	| # | flow                          | SPI              | UE side | P-CSCF side |
//	|---|-------------------------------|------------------|---------|-------------|
//	| 1 | UE port-c     → P-CSCF port-s | P-CSCF spi-s     | out     | in          |
//	| 2 | P-CSCF port-s → UE port-c     | UE spi-c         | in      | out         |
//	| 3 | P-CSCF port-c → UE port-s     | UE spi-s         | in      | out         |
//	| 4 | UE port-s     → P-CSCF port-c | P-CSCF spi-c     | out     | in          |
//
// 1 and 2 carry the requests the UE sends and their responses; 3 and 4 the requests the P-CSCF
// sends (NOTIFY, INVITE to the UE) and their responses. Kamailio's ims_ipsec_pcscf installs the
// same four (SA1..SA4 in its create_ipsec_tunnel).
const (
	FlowUEClientToPCSCFServer FlowID = 1
	FlowPCSCFServerToUEClient FlowID = 2
	FlowPCSCFClientToUEServer FlowID = 3
	FlowUEServerToPCSCFClient FlowID = 4
)

func (f FlowID) String() string {
	switch f {
	case FlowUEClientToPCSCFServer:
		return "ue-c>pcscf-s"
	case FlowPCSCFServerToUEClient:
		return "pcscf-s>ue-c"
	case FlowPCSCFClientToUEServer:
		return "pcscf-c>ue-s"
	case FlowUEServerToPCSCFClient:
		return "ue-s>pcscf-c"
	}
	return fmt.Sprintf("flow(%d)", uint8(f))
}

// Flow is one unidirectional SA of the set.
type Flow struct {
	ID       FlowID
	Src, Dst netip.AddrPort
	SPI      uint32
	Sender   Side // the side for which this SA is outbound
}

// Outbound reports whether this SA is outbound (policy dir out) on the given side.
func (f Flow) Outbound(side Side) bool { return f.Sender == side }

// Flows returns the four SAs of the set in the order of the table on FlowID.
func (p Pair) Flows() [4]Flow {
	ue, pc := p.UE.Addr.Unmap(), p.PCSCF.Addr.Unmap()
	return [4]Flow{
		{FlowUEClientToPCSCFServer, netip.AddrPortFrom(ue, p.UE.PortC), netip.AddrPortFrom(pc, p.PCSCF.PortS), p.PCSCF.SPIS, SideUE},
		{FlowPCSCFServerToUEClient, netip.AddrPortFrom(pc, p.PCSCF.PortS), netip.AddrPortFrom(ue, p.UE.PortC), p.UE.SPIC, SidePCSCF},
		{FlowPCSCFClientToUEServer, netip.AddrPortFrom(pc, p.PCSCF.PortC), netip.AddrPortFrom(ue, p.UE.PortS), p.UE.SPIS, SidePCSCF},
		{FlowUEServerToPCSCFClient, netip.AddrPortFrom(ue, p.UE.PortS), netip.AddrPortFrom(pc, p.PCSCF.PortC), p.PCSCF.SPIC, SideUE},
	}
}

// minSPI: SPIs 1–255 are reserved by IANA and 0 means "no SA" (RFC 4303 §2.1).
const minSPI = 256

// Validate checks that the pair describes four distinct, installable SAs with known algorithms.
func (p Pair) Validate() error {
	if err := p.Algs.Validate(); err != nil {
		return err
	}
	return p.validateFlows()
}

// validateFlows is Validate without the algorithms: all that Remove and Counters need.
func (p Pair) validateFlows() error {
	ue, pc := p.UE.Addr.Unmap(), p.PCSCF.Addr.Unmap()
	switch {
	case !ue.IsValid() || !pc.IsValid():
		return fmt.Errorf("%w: UE address %v, P-CSCF address %v", ErrInvalidPair, p.UE.Addr, p.PCSCF.Addr)
	case ue.Is4() != pc.Is4():
		return fmt.Errorf("%w: UE address %v and P-CSCF address %v are of different families", ErrInvalidPair, ue, pc)
	case ue.Zone() != "" || pc.Zone() != "":
		return fmt.Errorf("%w: scoped addresses (%v, %v) are not supported", ErrInvalidPair, p.UE.Addr, p.PCSCF.Addr)
	case p.Proto != ProtoAny && p.Proto != ProtoUDP && p.Proto != ProtoTCP:
		return fmt.Errorf("%w: transport %v", ErrInvalidPair, p.Proto)
	}
	for _, e := range []struct {
		who string
		ep  Endpoint
	}{{"UE", p.UE}, {"P-CSCF", p.PCSCF}} {
		if e.ep.PortC == 0 || e.ep.PortS == 0 {
			return fmt.Errorf("%w: %s port-c %d port-s %d", ErrInvalidPair, e.who, e.ep.PortC, e.ep.PortS)
		}
		if e.ep.SPIC < minSPI || e.ep.SPIS < minSPI {
			return fmt.Errorf("%w: %s spi-c %d spi-s %d (must be >= %d)", ErrInvalidPair, e.who, e.ep.SPIC, e.ep.SPIS, minSPI)
		}
		// Both SAs arriving at this end share its address as destination, so their SPIs must
		// differ: (destination, SPI, ESP) is what identifies an SA (RFC 4301 §4.1).
		if e.ep.SPIC == e.ep.SPIS {
			return fmt.Errorf("%w: %s spi-c and spi-s are both %d", ErrInvalidPair, e.who, e.ep.SPIC)
		}
	}
	if ue == pc {
		// One address for both ends (both in one host's loopback): all four SAs share the
		// destination, so all four SPIs must differ.
		spis := map[uint32]bool{p.UE.SPIC: true, p.UE.SPIS: true, p.PCSCF.SPIC: true, p.PCSCF.SPIS: true}
		if len(spis) != 4 {
			return fmt.Errorf("%w: UE and P-CSCF share the address %v but not four distinct SPIs", ErrInvalidPair, ue)
		}
	}
	flows := p.Flows()
	for i := range flows {
		for j := i + 1; j < len(flows); j++ {
			if flows[i].Src == flows[j].Src && flows[i].Dst == flows[j].Dst {
				return fmt.Errorf("%w: SAs %v and %v share the flow %v -> %v", ErrInvalidPair, flows[i].ID, flows[j].ID, flows[i].Src, flows[i].Dst)
			}
		}
	}
	return nil
}
