package fastreg

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/peer"
)

// ClientConfig is what NewClient needs: the access agent's Diameter identity and its HSS.
type ClientConfig struct {
	OriginHost  string // the PAA's DiameterIdentity
	OriginRealm string
	HSSAddress  string // "host:port" of the HSS's Diameter listener
	HSSHost     string // the HSS's Origin-Host (required over TLS); also sent as Destination-Host
	HSSRealm    string // Destination-Realm
	// Node overrides the peer settings (timers, TLS); OriginHost, OriginRealm, Applications and Dictionary
	// are set by NewClient.
	Node peer.Config
	Log  *zap.Logger
}

// Client pushes and drops tokens at the HSS (Token-Push, Token-Drop) over its own Diameter node, which
// advertises the application in CER as a Vendor-Specific-Application-Id (RFC 6733 §5.3, §6.11). It is the
// PAA's token pusher (services/paa.TokenPusher). Safe for concurrent use.
type Client struct {
	cfg    ClientConfig
	dict   *dict.Parser
	node   *peer.Node
	high   uint32
	low    atomic.Uint32
	cancel context.CancelFunc
}

// NewClient builds the node and starts keeping a connection with the HSS (peer.Node.Connect). Close it.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.OriginHost == "" || cfg.OriginRealm == "" || cfg.HSSAddress == "" || cfg.HSSRealm == "" {
		return nil, fmt.Errorf("%w: fastreg client: origin host and realm, HSS address and realm are required", peer.ErrInvalidConfig)
	}
	d, err := NewDictionary()
	if err != nil {
		return nil, err
	}
	nc := cfg.Node
	nc.OriginHost, nc.OriginRealm, nc.Dictionary = cfg.OriginHost, cfg.OriginRealm, d
	nc.Applications = []peer.Application{{ID: AppID, VendorID: VendorID}}
	if nc.ProductName == "" {
		nc.ProductName = "imscore-paa"
	}
	if nc.Log == nil {
		nc.Log = cfg.Log
	}
	// The HSS sends the PAA no request of this application.
	refuse := peer.HandlerFunc(func(context.Context, *diam.Message, peer.PeerInfo) (*diam.Message, error) {
		return nil, diameter.Errorf(diameter.CommandUnsupported, "the access agent serves no request")
	})
	node, err := peer.New(nc, refuse)
	if err != nil {
		return nil, fmt.Errorf("fastreg client: %w", err)
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	c := &Client{cfg: cfg, dict: d, node: node, high: binary.BigEndian.Uint32(r[:])}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	if err := node.Connect(ctx, peer.PeerConfig{Address: cfg.HSSAddress, Host: cfg.HSSHost, Realm: cfg.HSSRealm,
		Roles: []string{"hss"}}); err != nil {
		cancel()
		_ = node.Close(context.Background())
		return nil, fmt.Errorf("fastreg client: %w", err)
	}
	return c, nil
}

// WaitReady waits until the HSS connection is open (capabilities exchanged).
func (c *Client) WaitReady(ctx context.Context) error {
	if c.cfg.HSSHost == "" {
		for len(c.node.Peers()) == 0 || c.node.Peers()[0].State != peer.StateOpen {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
		return nil
	}
	_, err := c.node.WaitPeer(ctx, c.cfg.HSSHost)
	return err
}

// Close disconnects from the HSS (DPR) and stops the node.
func (c *Client) Close(ctx context.Context) error {
	c.cancel()
	return c.node.Close(ctx)
}

func (c *Client) common() common {
	return common{SessionID: fmt.Sprintf("%s;%d;%d", c.cfg.OriginHost, c.high, c.low.Add(1)),
		OriginHost: c.cfg.OriginHost, OriginRealm: c.cfg.OriginRealm}
}

// Push stores token for impi at the HSS for lifetime (rounded up to whole seconds, at most 2^32-1 s).
// A refusal is a *diameter.Error with the HSS's Result-Code.
func (c *Client) Push(ctx context.Context, impi string, token []byte, lifetime time.Duration) error {
	secs := math.Ceil(lifetime.Seconds())
	if secs < 1 || secs > math.MaxUint32 {
		return fmt.Errorf("%w: token lifetime %s", ErrInvalidField, lifetime)
	}
	r := &TPR{common: c.common(), DestinationRealm: c.cfg.HSSRealm, DestinationHost: c.cfg.HSSHost,
		UserName: impi, Token: token, Lifetime: uint32(secs)}
	m, err := r.Marshal(c.dict)
	if err != nil {
		return fmt.Errorf("token push %s: %w", impi, err)
	}
	return c.exchange(ctx, "token push", impi, m)
}

// Drop removes impi's token at the HSS (the access session ended). Dropping a token that is not there
// succeeds.
func (c *Client) Drop(ctx context.Context, impi string) error {
	r := &TDR{common: c.common(), DestinationRealm: c.cfg.HSSRealm, DestinationHost: c.cfg.HSSHost, UserName: impi}
	m, err := r.Marshal(c.dict)
	if err != nil {
		return fmt.Errorf("token drop %s: %w", impi, err)
	}
	return c.exchange(ctx, "token drop", impi, m)
}

func (c *Client) exchange(ctx context.Context, what, impi string, m interface{ Serialize() ([]byte, error) }) error {
	b, err := m.Serialize()
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, impi, err)
	}
	ans, err := c.node.RequestBinary(ctx, b)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, impi, err)
	}
	var a Answer
	if err := a.UnmarshalBinary(ans); err != nil {
		return fmt.Errorf("%s %s: answer: %w", what, impi, err)
	}
	if err := a.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", what, impi, err)
	}
	return nil
}
