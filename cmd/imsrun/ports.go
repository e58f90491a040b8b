package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// portSpec is one socket a node binds: "tcp:127.0.0.1:5060" or "udp:127.0.0.1:5060".
type portSpec struct {
	network string // "tcp" or "udp"
	addr    netip.AddrPort
}

func (p portSpec) String() string { return p.network + ":" + p.addr.String() }

func parsePortSpec(s string) (portSpec, error) {
	network, addr, ok := strings.Cut(s, ":")
	if !ok || (network != "tcp" && network != "udp") {
		return portSpec{}, fmt.Errorf("port %q: want tcp:ADDR:PORT or udp:ADDR:PORT", s)
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return portSpec{}, fmt.Errorf("port %q: %w", s, err)
	}
	return portSpec{network: network, addr: ap}, nil
}

// errPortBusy means a port a node needs is taken before the node starts.
var errPortBusy = errors.New("port in use")

// checkFree binds each port for a moment: imsrun refuses to start anything when one is taken, and names the
// process holding it when /proc shows it (another imsrun, a P-CSCF left from an earlier run, Kamailio…).
func checkFree(node string, ports []portSpec) error {
	var busy []string
	for _, p := range ports {
		if err := tryBind(p); err != nil {
			msg := p.String()
			if pid, cmd, ok := portOwner(p); ok {
				msg += fmt.Sprintf(" (held by pid %d: %s)", pid, cmd)
			}
			busy = append(busy, msg)
		}
	}
	if len(busy) > 0 {
		return fmt.Errorf("%s cannot start: %w: %s; stop what holds it or move %s with --%s-arg and --%s-ports",
			node, errPortBusy, strings.Join(busy, ", "), node, node, node)
	}
	return nil
}

func tryBind(p portSpec) error {
	switch p.network {
	case "udp":
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(p.addr))
		if err != nil {
			return err
		}
		return c.Close()
	default:
		l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(p.addr))
		if err != nil {
			return err
		}
		return l.Close()
	}
}

// portOwner finds the process with a socket bound to the port (a listening one for TCP): the socket's inode
// from /proc/net/{tcp,tcp6,udp,udp6}, then the process whose /proc/PID/fd links to it. Processes of other
// users are invisible without privileges; ok is then false.
func portOwner(p portSpec) (pid int, cmdline string, ok bool) {
	inode := socketInode(p)
	if inode == "" {
		return 0, "", false
	}
	target := "socket:[" + inode + "]"
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		if link, err := os.Readlink(fd); err == nil && link == target {
			pid, _ = strconv.Atoi(strings.Split(fd, "/")[2])
			b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
			return pid, strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")), true
		}
	}
	return 0, "", false
}

// socketInode reads /proc/net for the socket bound to p's port (any address: a wildcard bind holds it too).
func socketInode(p portSpec) string {
	files := []string{"/proc/net/" + p.network, "/proc/net/" + p.network + "6"}
	wantPort := fmt.Sprintf("%04X", p.addr.Port())
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 {
				continue
			}
			_, port, _ := strings.Cut(fields[1], ":")
			if port != wantPort {
				continue
			}
			if p.network == "tcp" && fields[3] != "0A" { // TCP_LISTEN
				continue
			}
			fh.Close()
			return fields[9]
		}
		fh.Close()
	}
	return ""
}

// ownedBy tells whether the TCP listener on port belongs to pid: a /readyz that answers is ours only if the
// process we started holds the socket (another instance's node would answer just as well).
func ownedBy(port uint16, pid int) (bool, string) {
	owner, cmd, ok := portOwner(portSpec{network: "tcp", addr: netip.AddrPortFrom(netip.IPv4Unspecified(), port)})
	if !ok {
		return false, "no visible process holds it"
	}
	if owner != pid {
		return false, fmt.Sprintf("pid %d holds it: %s", owner, cmd)
	}
	return true, ""
}
