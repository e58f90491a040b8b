package icscf

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/doic"
)

// HSS is what the I-CSCF asks the HSS over Cx (TS 29.228 §6.1.1, §6.1.4). An error means the query could not be
// completed; a negative answer is returned as an answer.
type HSS interface {
	UserAuthorization(ctx context.Context, uar *cx.UAR) (*cx.UAA, error)
	LocationInfo(ctx context.Context, lir *cx.LIR) (*cx.LIA, error)
}

// requester is the part of diameter/peer.Node the Cx client uses: the byte path (docs/diameter.md), the
// request encoded straight from its struct and the answer decoded straight into one.
type requester interface {
	RequestBinary(ctx context.Context, req []byte) ([]byte, error)
}

// cxClient is the HSS over a diameter/peer Node.
type cxClient struct {
	node        requester
	originHost  string
	originRealm string
	destRealm   string
	destHost    string
	timeout     time.Duration
	sessionBase string
	seq         atomic.Uint64
	// overload, when set, is DOIC (RFC 7683): OC-Supported-Features in every request, the HSS's OC-OLR
	// taken from every answer, and the share of requests it asks for throttled before they are sent.
	overload *doic.Reactor
}

func newCxClient(node requester, dc DiameterConfig, destRealm string, log *zap.Logger) *cxClient {
	var b [4]byte
	_, _ = rand.Read(b[:])
	c := &cxClient{node: node, originHost: dc.OriginHost, originRealm: dc.OriginRealm,
		destRealm: destRealm, destHost: dc.HSSHost, timeout: dc.RequestTimeout,
		sessionBase: dc.OriginHost + ";" + strconv.FormatInt(time.Now().Unix(), 10) + ";" + hex.EncodeToString(b[:])}
	if dc.DOIC {
		c.overload = doic.New(log)
	}
	return c
}

// admit applies the HSS's overload reports to the next request (RFC 7683 §5.5.1) and, when it may go,
// returns the OC-Supported-Features it carries (§5.3.1); nil without DOIC.
func (c *cxClient) admit() (*cx.OCSupportedFeatures, error) {
	if c.overload == nil {
		return nil, nil
	}
	if ok, _ := c.overload.Admit(c.destHost, c.destRealm); !ok {
		return nil, ErrHSSOverloaded
	}
	return doic.Supported(), nil
}

// observe takes the overload report of an answer, whatever its result (RFC 7683 §5.5.3).
func (c *cxClient) observe(command, originHost, originRealm string, olr *cx.OCOLR) {
	if c.overload != nil {
		c.overload.Observe(command, originHost, originRealm, olr)
	}
}

// sessionID makes a Session-Id as RFC 6733 §8.8 recommends: <DiameterIdentity>;<high 32 bits>;<low 32 bits>.
func (c *cxClient) sessionID() string {
	return c.sessionBase + ";" + strconv.FormatUint(c.seq.Add(1), 10)
}

// UserAuthorization sends uar and returns the UAA.
func (c *cxClient) UserAuthorization(ctx context.Context, uar *cx.UAR) (*cx.UAA, error) {
	oc, err := c.admit()
	if err != nil {
		return nil, fmt.Errorf("uar %s: %w: %w", uar.PublicIdentity, ErrHSSUnavailable, err)
	}
	uar.SessionID, uar.OriginHost, uar.OriginRealm = c.sessionID(), c.originHost, c.originRealm
	uar.DestinationRealm, uar.DestinationHost, uar.OCSupportedFeatures = c.destRealm, c.destHost, oc
	req, err := uar.AppendBinary(nil)
	if err != nil {
		return nil, fmt.Errorf("uar %s: %w", uar.PublicIdentity, err)
	}
	ans, err := c.request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("uar %s: %w: %w", uar.PublicIdentity, ErrHSSUnavailable, err)
	}
	uaa := new(cx.UAA)
	if err := uaa.UnmarshalBinary(ans); err != nil {
		return nil, fmt.Errorf("uaa %s: %w: %w", uar.PublicIdentity, ErrHSSUnavailable, err)
	}
	c.observe("UAA", uaa.OriginHost, uaa.OriginRealm, uaa.OCOLR)
	return uaa, nil
}

// LocationInfo sends lir and returns the LIA.
func (c *cxClient) LocationInfo(ctx context.Context, lir *cx.LIR) (*cx.LIA, error) {
	oc, err := c.admit()
	if err != nil {
		return nil, fmt.Errorf("lir %s: %w: %w", lir.PublicIdentity, ErrHSSUnavailable, err)
	}
	lir.SessionID, lir.OriginHost, lir.OriginRealm = c.sessionID(), c.originHost, c.originRealm
	lir.DestinationRealm, lir.DestinationHost, lir.OCSupportedFeatures = c.destRealm, c.destHost, oc
	req, err := lir.AppendBinary(nil)
	if err != nil {
		return nil, fmt.Errorf("lir %s: %w", lir.PublicIdentity, err)
	}
	ans, err := c.request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("lir %s: %w: %w", lir.PublicIdentity, ErrHSSUnavailable, err)
	}
	lia := new(cx.LIA)
	if err := lia.UnmarshalBinary(ans); err != nil {
		return nil, fmt.Errorf("lia %s: %w: %w", lir.PublicIdentity, ErrHSSUnavailable, err)
	}
	c.observe("LIA", lia.OriginHost, lia.OriginRealm, lia.OCOLR)
	return lia, nil
}

func (c *cxClient) request(ctx context.Context, req []byte) ([]byte, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	return c.node.RequestBinary(ctx, req)
}

// outcome classifies a Cx answer's result (TS 29.229 §6.2, RFC 6733 §7.1).
type outcome uint8

const (
	outcomeSuccess     outcome = 1 // 2xxx: base DIAMETER_SUCCESS or a Cx 2001–2004
	outcomeNegative    outcome = 2 // a permanent failure about the user (Cx 5xxx, base 5003 authorization rejected)
	outcomeUnavailable outcome = 3 // the query could not be completed: protocol, transient or other errors
)

// classify reads an answer's Result-Code or Experimental-Result.
func classify(code diameter.ResultCode, vendor uint32) outcome {
	switch {
	case code >= 2000 && code < 3000:
		return outcomeSuccess
	case vendor == cx.Vendor3GPP && code >= 5000 && code < 6000:
		return outcomeNegative
	case vendor == 0 && code == diameter.AuthorizationRejected:
		return outcomeNegative
	}
	return outcomeUnavailable
}

// resultName names a result for logs and metrics labels.
func resultName(code diameter.ResultCode, vendor uint32) string {
	if vendor == cx.Vendor3GPP {
		if n := cx.ExperimentalResultName(code); n != "" {
			return n
		}
	}
	return strconv.FormatUint(uint64(code), 10)
}
