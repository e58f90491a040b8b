package ipsec

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
)

// Support is what the kernel of one network namespace can do for IMS-AKA, as found by Probe.
type Support struct {
	// ESP: at least one of our algorithm combinations installs over IPv4.
	ESP bool
	// IPv6: ESP SAs install over IPv6 too (esp6 is a module of its own).
	IPv6 bool
	// Algorithms the kernel accepted, strongest first, and those it refused.
	Algorithms  []Algorithms
	Unavailable []Algorithms
	// Reason says why ESP is unusable, when it is.
	Reason string
}

// Supports reports whether a throwaway SA with these algorithms installed.
func (s Support) Supports(a Algorithms) bool {
	for _, b := range s.Algorithms {
		if a == b {
			return true
		}
	}
	return false
}

// String is one log line for start-up.
func (s Support) String() string {
	if !s.ESP {
		return "kernel IPsec: ESP not available (" + s.Reason + "): IMS-AKA sec-agree cannot be offered"
	}
	names := make([]string, len(s.Algorithms))
	for i, a := range s.Algorithms {
		names[i] = a.String()
	}
	line := "kernel IPsec: ESP available with " + strings.Join(names, ", ")
	if !s.IPv6 {
		line += "; not over IPv6"
	}
	if len(s.Unavailable) > 0 {
		missing := make([]string, len(s.Unavailable))
		for i, a := range s.Unavailable {
			missing[i] = a.String()
		}
		line += "; missing " + strings.Join(missing, ", ")
	}
	return line
}

// Throwaway SAs of the probe live between documentation addresses (RFC 5737, RFC 3849) that no
// traffic uses, carry no policy, and are deleted at once.
var (
	probeSrc4 = netip.MustParseAddr("192.0.2.1")
	probeDst4 = netip.MustParseAddr("192.0.2.2")
	probeSrc6 = netip.MustParseAddr("2001:db8::1")
	probeDst6 = netip.MustParseAddr("2001:db8::2")
)

// probeSPI is the SPI of the throwaway SAs; if another SA happens to hold it, the next few are tried.
const probeSPI uint32 = 0x494d0f00

// Probe finds out whether the kernel behind h supports ESP with our algorithms, by adding and
// deleting a throwaway SA per algorithm combination: EPROTONOSUPPORT means no ESP at all (as on
// the development machines, docs/design.md §5), ENOENT a missing algorithm. An error means Probe
// could not tell, e.g. for lack of CAP_NET_ADMIN.
func Probe(h *netlink.Handle) (Support, error) { return probe(h, DefaultReqIDBase) }

func probe(h *netlink.Handle, reqid uint32) (Support, error) {
	var s Support
	var firstRefusal error
	for _, algs := range AllAlgorithms() {
		err := tryState(h, algs, probeSrc4, probeDst4, reqid)
		switch {
		case err == nil:
			s.ESP = true
			s.Algorithms = append(s.Algorithms, algs)
		case errors.Is(err, ErrESPUnsupported):
			s.Reason = err.Error()
			return s, nil
		case errors.Is(err, ErrAlgorithmUnavailable):
			s.Unavailable = append(s.Unavailable, algs)
			if firstRefusal == nil {
				firstRefusal = err
			}
		default:
			return s, fmt.Errorf("ipsec probe %v: %w", algs, err)
		}
	}
	if !s.ESP {
		s.Reason = "no algorithm combination accepted: " + firstRefusal.Error()
		return s, nil
	}
	err := tryState(h, s.Algorithms[0], probeSrc6, probeDst6, reqid)
	switch {
	case err == nil:
		s.IPv6 = true
	case errors.Is(err, ErrESPUnsupported), errors.Is(err, ErrAlgorithmUnavailable):
	default:
		return s, fmt.Errorf("ipsec probe IPv6: %w", err)
	}
	return s, nil
}

// tryState adds and deletes one throwaway SA.
func tryState(h *netlink.Handle, algs Algorithms, src, dst netip.Addr, reqid uint32) error {
	p := Pair{Algs: algs}
	keys, err := deriveKeys(p)
	if err != nil {
		return err
	}
	for spi := probeSPI; spi < probeSPI+8; spi++ {
		f := Flow{Src: netip.AddrPortFrom(src, 0), Dst: netip.AddrPortFrom(dst, 0), SPI: spi}
		st := buildState(f, ProtoAny, reqid, keys, 0)
		err := h.XfrmStateAdd(st)
		if errors.Is(classify(err), ErrExists) {
			continue // someone holds this SPI; try the next
		}
		if err != nil {
			return &OpError{Op: "probe add state", SPI: spi, Src: f.Src, Dst: f.Dst, Err: classifyAdd(err)}
		}
		if err := h.XfrmStateDel(stateID(f)); err != nil {
			return &OpError{Op: "probe delete state", SPI: spi, Src: f.Src, Dst: f.Dst, Err: classify(err)}
		}
		return nil
	}
	return fmt.Errorf("ipsec probe: SPIs 0x%x.. all taken", probeSPI)
}
