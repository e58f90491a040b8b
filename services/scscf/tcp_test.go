package scscf

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// readSIP reads one message from a stream (RFC 3261 §18.3: Content-Length frames it).
func readSIP(t *testing.T, r *bufio.Reader) sip.Message {
	t.Helper()
	var head strings.Builder
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		head.WriteString(line)
		if line == "\r\n" {
			if head.Len() == 2 {
				head.Reset() // keep-alive CRLF
				continue
			}
			break
		}
		if name, value, ok := strings.Cut(line, ":"); ok && (strings.EqualFold(name, "Content-Length") || strings.EqualFold(name, "l")) {
			length, _ = strconv.Atoi(strings.TrimSpace(value))
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	msg, err := sip.NewParser().ParseSIP(append([]byte(head.String()), body...))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// IMS REGISTERs are often larger than 1300 bytes and come over TCP (RFC 3261 §18.1.1); the registrar
// answers on the same connection.
func TestRegisterOverTCP(t *testing.T) {
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000121", "15550000121")
	s := startSCSCF(t, hss, nil)
	conn, err := net.Dial("tcp", s.SIPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	ue := newUE(t, s, sub) // for its USIM and digest helpers; the socket here is TCP
	local := conn.LocalAddr().String()
	padding := strings.Repeat("x", 1400)
	send := func(cseq int, auth string) *sip.Response {
		msg := fmt.Sprintf("REGISTER sip:%[1]s SIP/2.0\r\nVia: SIP/2.0/TCP %[2]s;branch=z9hG4bK%[3]s\r\n"+
			"Max-Forwards: 70\r\nFrom: <%[4]s>;tag=tcp1\r\nTo: <%[4]s>\r\nCall-ID: tcp-%[5]s\r\nCSeq: %[6]d REGISTER\r\n"+
			"Contact: <sip:ue@%[2]s;transport=tcp>;expires=600\r\nUser-Agent: imscore-test %[7]s\r\n"+
			"Authorization: %[8]s\r\nContent-Length: 0\r\n\r\n",
			testDomain, local, randHex(8), ue.impu, ue.callID, cseq, padding, auth)
		if len(msg) <= 1300 {
			t.Fatalf("REGISTER of %d bytes: want more than 1300", len(msg))
		}
		_ = conn.SetDeadline(time.Now().Add(waitLong))
		if _, err := io.WriteString(conn, msg); err != nil {
			t.Fatal(err)
		}
		for {
			if res, ok := readSIP(t, r).(*sip.Response); ok && res.StatusCode != 100 {
				return res
			}
		}
	}
	first := send(1, ue.emptyAuth())
	if first.StatusCode != 401 {
		t.Fatalf("first REGISTER over TCP: %d", first.StatusCode)
	}
	if res := send(2, ue.authFor(first, false)); res.StatusCode != 200 {
		t.Fatalf("second REGISTER over TCP: %d", res.StatusCode)
	}
	if reg := registered(t, s, ue.impu); reg == nil || !strings.Contains(reg.Contacts[0].URI, "transport=tcp") {
		t.Fatalf("registration %+v", reg)
	}
}
