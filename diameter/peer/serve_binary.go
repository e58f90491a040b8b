package peer

import (
	"context"
	"encoding/binary"
	"runtime/debug"

	"github.com/fiorix/go-diameter/v4/diam"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/internal/logging"
)

// BinaryHandler is a Handler that serves some requests in wire form, without the go-diameter message a
// request is otherwise decoded into and its answer encoded from: the HSS's Cx procedures, whose typed
// messages decode from and encode to bytes themselves (diameter/cx AppendBinary, UnmarshalBinary).
//
// A request ServesBinary claims is checked as a Handler's are (header bits, application, command, every AVP's
// format, the peer's roles) and handed to ServeDiameterBinary as its frame, which the handler must not keep.
// The answer frame it returns is made to fit the request by the peer layer as Handler's answers are (Version,
// Command-Code, Application-Id and identifiers copied, 'R' cleared, 'P' as in the request, 'E' for a 3xxx
// Result-Code); it must already hold the request's Session-Id first, Origin-Host, Origin-Realm and the
// request's Proxy-Info AVPs, or it goes the go-diameter way to get them. An error is answered as Handler's
// are.
type BinaryHandler interface {
	Handler
	ServesBinary(app, command uint32) bool
	ServeDiameterBinary(ctx context.Context, frame []byte, from PeerInfo) ([]byte, error)
}

// binaryHandler is the node's handler as a BinaryHandler serving (app, command), or nil.
func (n *Node) binaryHandler(h header) BinaryHandler {
	if h.app == 0 {
		return nil // the base protocol is the peer layer's own
	}
	if bh, ok := n.handler.(BinaryHandler); ok && bh.ServesBinary(h.app, h.code) {
		return bh
	}
	return nil
}

// handleBinary serves a request bh claims: checked like any other (decodeRequest, authorize) but not
// decoded, then handed over in its own goroutine. A refused request is decoded for its error answer, which
// copies the request's application AVPs and Proxy-Info.
func (c *conn) handleBinary(h header, frame []byte, bh BinaryHandler) {
	if derr := checkRequest(frame, c.n.cfg.Dictionary, c.supports); derr != nil {
		c.reject(h, nil, frame, derr)
		return
	}
	sid := rawSessionID(frame)
	c.debugMessage("diameter message in", h, sid)
	if de := c.n.authorize(c.info.Load().Roles, h.app, h.code); de != nil {
		req, _ := decodeMessage(frame, c.n.cfg.Dictionary)
		c.refuse(h, req, de)
		return
	}
	// readFrame allocates each frame: it is the handler's alone.
	c.serve(h, nil, frame, sid, func(ctx context.Context, from PeerInfo) ([]byte, uint32) {
		return c.n.handleBinary(ctx, h, frame, sid, bh, from, c.logger())
	})
}

// handleBinary runs bh and returns the answer frame and its Result-Code. What the handler returns that is
// not an answer fit to send as it is (an error, a panic, nothing, an incomplete answer) is answered the
// go-diameter way, as handle does for a Handler.
func (n *Node) handleBinary(ctx context.Context, h header, frame []byte, sid string, bh BinaryHandler, from PeerInfo, log *zap.Logger) ([]byte, uint32) {
	log = log.With(logging.SessionID(sid))
	ans, err := n.callBinaryHandler(ctx, h, frame, bh, from, log)
	if err == nil && ans != nil {
		if out, ok := fitBinaryAnswer(frame, sid, ans); ok {
			code, _, _ := rawResult(out)
			return out, code
		}
	}
	req, derr := decodeMessage(frame, n.cfg.Dictionary)
	if derr != nil { // checked before it was handed over: not expected
		log.Error("diameter request checked but not decodable", zap.Uint32("command", h.code), zap.Error(derr))
		req = nil
		err = &diameter.Error{Code: diameter.UnableToComply}
	}
	var m *diam.Message
	switch {
	case err != nil:
		m = n.answerError(h, req, frame, err, log)
	case ans == nil:
		log.Warn("diameter handler returned neither answer nor error", zap.Uint32("command", h.code))
		m = n.errorAnswer(h, req, frame, &diameter.Error{Code: diameter.UnableToComply}, "")
	default:
		// Without the request's Session-Id first, its Proxy-Info or the Origin AVPs: completed as a
		// go-diameter message, as a Handler's answer is.
		if m, derr = decodeMessage(ans, n.cfg.Dictionary); derr == nil {
			n.finishAnswer(req, m)
		} else {
			log.Error("diameter handler answer does not decode", zap.Uint32("command", h.code), zap.Error(derr))
			m = n.errorAnswer(h, req, frame, &diameter.Error{Code: diameter.UnableToComply}, "")
		}
	}
	return n.encodeAnswer(h, req, frame, m, log)
}

// callBinaryHandler runs bh, a panic answered DIAMETER_UNABLE_TO_COMPLY as callHandler does.
func (n *Node) callBinaryHandler(ctx context.Context, h header, frame []byte, bh BinaryHandler, from PeerInfo, log *zap.Logger) (ans []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("diameter handler panic", zap.Uint32("command", h.code), zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			ans, err = nil, &diameter.Error{Code: diameter.UnableToComply}
		}
	}()
	return bh.ServeDiameterBinary(ctx, frame, from)
}

// fitBinaryAnswer makes a handler's answer frame fit its request in place, as finishAnswer does for a
// go-diameter answer (RFC 6733 §3, §6.2, §7.1.3), when the answer already has what finishAnswer would add:
// a well-framed answer whose first AVP is the request's Session-Id (§8.8), with Origin-Host, Origin-Realm
// and as many Proxy-Info AVPs as the request (§6.2). ok is false otherwise.
func fitBinaryAnswer(req []byte, sid string, ans []byte) ([]byte, bool) {
	if len(ans) < headerLength || int(uint24(ans[1:4])) != len(ans) || len(ans)%4 != 0 {
		return nil, false
	}
	seen, sidFirst, host, realm, proxies := 0, sid == "", false, false, 0
	fits := walkAVPs(ans[headerLength:], func(code uint32, _ uint8, vendor uint32, value []byte) bool {
		if seen++; seen == 1 && sid != "" {
			sidFirst = vendor == 0 && code == avpSessionID && string(value) == sid
		}
		if vendor == 0 {
			switch code {
			case avpOriginHost:
				host = true
			case avpOriginRealm:
				realm = true
			case avpProxyInfo:
				proxies++
			}
		}
		return true
	})
	if !fits || !sidFirst || !host || !realm || proxies != countProxyInfo(req) {
		return nil, false
	}
	rh := parseHeader(req)
	ans[0] = diameterVersion
	flags := rh.flags & flagProxiable
	if code, vendor, ok := rawResult(ans); ok && vendor == 0 && diameter.ResultCode(code).IsProtocolError() {
		flags |= flagError // §7.1.3
	}
	ans[4] = flags
	ans[5], ans[6], ans[7] = byte(rh.code>>16), byte(rh.code>>8), byte(rh.code)
	binary.BigEndian.PutUint32(ans[8:12], rh.app)
	binary.BigEndian.PutUint32(ans[12:16], rh.hbh)
	binary.BigEndian.PutUint32(ans[16:20], rh.e2e)
	return ans, true
}

// countProxyInfo is the number of top-level Proxy-Info AVPs of a frame.
func countProxyInfo(frame []byte) int {
	n := 0
	walkAVPs(frame[headerLength:], func(code uint32, _ uint8, vendor uint32, _ []byte) bool {
		if vendor == 0 && code == avpProxyInfo {
			n++
		}
		return true
	})
	return n
}
