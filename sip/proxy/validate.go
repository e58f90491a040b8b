package proxy

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/imscore/imscore/sip/header"

	"github.com/emiago/sipgo/sip"
)

// view is the proxy's reading of one received request, made once when it arrives (issue 12: the checks below
// used to look every header up again and re-serialize and re-parse each mandatory header at every step): a
// header index (sip/header.Index, each line under its canonical name) and, per header the proxy copies into
// what it sends, the verdict of typedHeadersOK, computed at most once. It describes the request as received:
// §16.4 preprocessing builds a new index for the router.
type view struct {
	req      *sip.Request
	ix       *header.Index
	verdicts [len(verdictKeys)]int8 // 0 not yet judged, 1 sound, -1 malformed
}

// verdictKeys are the headers whose verdict the view keeps.
var verdictKeys = [...]string{"via", "from", "to", "call-id", "cseq", "max-forwards", "route"}

func newView(req *sip.Request) *view { return &view{req: req, ix: header.NewIndex(req)} }

// typedOK is typedHeaderOK(req, key), judged once per request.
func (v *view) typedOK(key string) bool {
	for i, k := range verdictKeys {
		if k != key {
			continue
		}
		if v.verdicts[i] == 0 {
			v.verdicts[i] = -1
			if typedHeadersOK(v.ix.Fields(key)) {
				v.verdicts[i] = 1
			}
		}
		return v.verdicts[i] > 0
	}
	return typedHeadersOK(v.ix.Fields(key))
}

// missingOrMalformed names the first mandatory header that is absent or could not be parsed, as a 400
// (RFC 3261 §16.3 step 1: "reasonable syntax"). nil when all are fine.
//
// The mandatory headers are those of RFC 3261 §8.1.1 but Max-Forwards: a proxy forwards a request without it,
// adding one (§16.3 step 3, §16.6 step 3); only a malformed Max-Forwards is rejected (checkRequest).
func missingOrMalformed(req *sip.Request) *StatusError { return newView(req).missingOrMalformed() }

func (v *view) missingOrMalformed() *StatusError {
	req := v.req
	for _, key := range [...]string{"via", "from", "to", "call-id", "cseq"} {
		switch {
		case !v.ix.Has(key):
			return &StatusError{Code: sip.StatusBadRequest, Reason: "Missing " + header.Canonical(key) + " Header"}
		case !v.typedOK(key):
			return &StatusError{Code: sip.StatusBadRequest, Reason: "Malformed " + header.Canonical(key) + " Header"}
		}
	}
	if via := req.Via(); via == nil || via.Host == "" {
		return &StatusError{Code: sip.StatusBadRequest, Reason: "Malformed Via Header"}
	}
	if req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil {
		return &StatusError{Code: sip.StatusBadRequest, Reason: "Malformed Request"}
	}
	return nil
}

// checkRequest applies RFC 3261 §16.3 to a new request (not ACK, not CANCEL) in the order the RFC gives, and
// §8.2.2.3 when this node answers the request itself. It returns the rejection to send, or nil.
func (p *Proxy) checkRequest(req *sip.Request) *StatusError { return p.checkView(newView(req)) }

// checkView is checkRequest on the view of the request made when it arrived.
func (p *Proxy) checkView(v *view) *StatusError {
	req := v.req
	// Step 1: reasonable syntax.
	if se := v.missingOrMalformed(); se != nil {
		return se
	}
	for _, key := range [...]string{"max-forwards", "route"} {
		if !v.typedOK(key) {
			return &StatusError{Code: sip.StatusBadRequest, Reason: "Malformed " + header.Canonical(key) + " Header"}
		}
	}
	if cs := req.CSeq(); cs.MethodName != req.Method {
		// RFC 3261 §8.1.1.5: the CSeq method MUST match the request method.
		return &StatusError{Code: sip.StatusBadRequest, Reason: "CSeq Method Does Not Match"}
	}
	// Step 2: URI scheme.
	if !slices.ContainsFunc(p.cfg.URISchemes, func(s string) bool { return strings.EqualFold(s, uriScheme(req.Recipient)) }) {
		return &StatusError{Code: 416, Reason: reasonPhrase(416)}
	}
	// Step 3: Max-Forwards. (An OPTIONS with 0 MAY be answered as final recipient; this proxy keeps the rule
	// simple and answers 483 to every method.)
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
		return &StatusError{Code: sip.StatusTooManyHops, Reason: reasonPhrase(sip.StatusTooManyHops)}
	}
	// Step 4: loop detection.
	if p.loopedView(v) {
		return &StatusError{Code: sip.StatusLoopDetected, Reason: reasonPhrase(sip.StatusLoopDetected)}
	}
	// Step 5: Proxy-Require (and Require when answering as UAS, §8.2.2.3).
	proxyRequire, require := v.ix.Fields("proxy-require"), v.ix.Fields("require")
	if len(proxyRequire) == 0 && len(require) == 0 {
		return nil // nothing required: the router is not asked for its option-tags
	}
	var known []string
	uas := false
	if p.tagger != nil {
		known, uas = p.tagger.OptionTags(req)
	}
	unsupported := unknownTags(optionTagsOf(proxyRequire), known)
	if uas {
		unsupported = append(unsupported, unknownTags(optionTagsOf(require), known)...)
	}
	if len(unsupported) > 0 {
		slices.Sort(unsupported)
		unsupported = slices.Compact(unsupported)
		return &StatusError{Code: sip.StatusBadExtension, Reason: reasonPhrase(sip.StatusBadExtension),
			Headers: []sip.Header{sip.NewHeader("Unsupported", strings.Join(unsupported, ", "))}}
	}
	return nil
}

func unknownTags(tags, known []string) []string {
	var out []string
	for _, t := range tags {
		if !slices.ContainsFunc(known, func(k string) bool { return strings.EqualFold(k, t) }) {
			out = append(out, t)
		}
	}
	return out
}

func uriScheme(u sip.Uri) string {
	if u.Scheme == "" {
		return "sip"
	}
	return u.Scheme
}

// Branch parameters this proxy writes (RFC 3261 §16.6 step 8): the magic cookie, a loop-detection hash and a
// random part, "z9hG4bK-<16 hex loop hash>-<16 hex random>". The two parts are separable, as §16.6 step 8 asks,
// so §16.3 step 4 can read the hash back.
const (
	branchPrefix  = sip.RFC3261BranchMagicCookie + "-"
	loopHashLen   = 16
	branchRandLen = 16
)

func newBranch(loopHash string) string {
	var b strings.Builder
	b.Grow(len(branchPrefix) + loopHashLen + 1 + branchRandLen)
	b.WriteString(branchPrefix)
	b.WriteString(loopHash)
	b.WriteByte('-')
	r := strconv.FormatUint(rand.Uint64(), 16)
	b.WriteString(strings.Repeat("0", branchRandLen-len(r)))
	b.WriteString(r)
	return b.String()
}

// branchLoopHash extracts the loop hash from a branch this proxy wrote.
func branchLoopHash(branch string) (string, bool) {
	rest, ok := strings.CutPrefix(branch, branchPrefix)
	if !ok || len(rest) != loopHashLen+1+branchRandLen || rest[loopHashLen] != '-' {
		return "", false
	}
	return rest[:loopHashLen], true
}

// loopHash is the second part of the branch (RFC 3261 §16.6 step 8): a hash of the fields that decide how the
// request is processed: To tag, From tag, Call-ID, CSeq number, the Request-URI as received, the Via the request
// arrived with on top, and the Route, Proxy-Require and Proxy-Authorization values. A request that comes back
// with all of them unchanged has looped; one that changed any of them (an AS re-targeting, a new Route) spirals.
func loopHash(req *sip.Request, topVia *sip.ViaHeader) string {
	return loopHashOf(newView(req), topVia)
}

// loopHashOf is loopHash on the view of the request made when it arrived.
func loopHashOf(v *view, topVia *sip.ViaHeader) string {
	req := v.req
	h := md5.New() // §16.6 step 8 names MD5 as a reasonable choice; this is not a security use
	w := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	if to := req.To(); to != nil {
		v, _ := to.Params.Get("tag")
		w(v)
	}
	if from := req.From(); from != nil {
		v, _ := from.Params.Get("tag")
		w(v)
	}
	w(callIDOf(req))
	if cs := req.CSeq(); cs != nil {
		w(strconv.FormatUint(uint64(cs.SeqNo), 10))
	}
	w(req.Recipient.String())
	if topVia != nil {
		branch, _ := topVia.Params.Get("branch")
		w(strings.ToLower(topVia.Host))
		w(strconv.Itoa(topVia.Port))
		w(branch)
	}
	for _, key := range [...]string{"route", "proxy-require", "proxy-authorization"} {
		for _, hdr := range v.ix.Fields(key) {
			w(hdr.Value())
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:loopHashLen]
}

// looped applies RFC 3261 §16.3 step 4. For every Via this proxy wrote, the hash is recomputed over the request
// as it is now, taking as "topmost Via" the one just below ours (the one that was on top when we forwarded it);
// equal means nothing that matters changed since: a loop.
func (p *Proxy) looped(req *sip.Request) bool { return p.loopedView(newView(req)) }

func (p *Proxy) loopedView(v *view) bool {
	vias := v.ix.Fields("via")
	for i, h := range vias {
		via, ok := h.(*sip.ViaHeader)
		if !ok || !p.isOurSentBy(via) {
			continue
		}
		branch, _ := via.Params.Get("branch")
		want, ok := branchLoopHash(branch)
		if !ok {
			continue
		}
		var below *sip.ViaHeader
		if i+1 < len(vias) {
			below, _ = vias[i+1].(*sip.ViaHeader)
		}
		if loopHashOf(v, below) == want {
			return true
		}
	}
	return false
}

// isOurSentBy reports whether a Via's sent-by is one of our listeners (RFC 3261 §16.3 step 4, §18.1.2).
func (p *Proxy) isOurSentBy(via *sip.ViaHeader) bool {
	port := via.Port
	if port == 0 {
		port = sip.DefaultPort(via.Transport)
	}
	return p.aliases[strings.ToLower(strings.Trim(via.Host, "[]"))+":"+strconv.Itoa(port)]
}

// serverTxKey matches requests to server transactions (RFC 3261 §17.2.3): branch, sent-by and method, with ACK
// and CANCEL matched against the INVITE by passing method INVITE. RFC 2543 requests without the magic cookie are
// matched by From tag, Call-ID, CSeq number and top Via.
func serverTxKey(req *sip.Request, method sip.RequestMethod) string {
	via := req.Via()
	branch, _ := via.Params.Get("branch")
	var b strings.Builder
	if strings.HasPrefix(branch, sip.RFC3261BranchMagicCookie) && len(branch) > len(sip.RFC3261BranchMagicCookie) {
		port := via.Port
		if port == 0 {
			port = sip.DefaultPort(via.Transport)
		}
		fmt.Fprintf(&b, "%s|%s:%d|%s", branch, strings.ToLower(via.Host), port, method)
		return b.String()
	}
	fromTag := ""
	if f := req.From(); f != nil {
		fromTag, _ = f.Params.Get("tag")
	}
	seq := uint32(0)
	if cs := req.CSeq(); cs != nil {
		seq = cs.SeqNo
	}
	fmt.Fprintf(&b, "2543|%s|%s|%d|%s|%s:%d", fromTag, callIDOf(req), seq, method, via.Host, via.Port)
	return b.String()
}
