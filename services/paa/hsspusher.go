package paa

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/fastreg"
)

// Where the tokens of the local EAP server go (Config.Tokens).
const (
	TokensMemory = "memory" // kept in the PAA (MemoryPusher): labs and tests, no core sees them
	TokensHSS    = "hss"    // pushed to the HSS's token application (diameter/fastreg, docs/fastreg.md)
)

// hssPusher is the TokenPusher of tokens: hss, the PAA as a client of the HSS's token application
// (Token-Push, Token-Drop over the Diameter node of fastreg.Client, role paa at the HSS).
type hssPusher struct{ c *fastreg.Client }

func startHSSPusher(cfg DiameterConfig, log *zap.Logger) (*hssPusher, error) {
	c, err := fastreg.NewClient(fastreg.ClientConfig{OriginHost: cfg.OriginHost, OriginRealm: cfg.OriginRealm,
		HSSAddress: cfg.HSS[0], HSSRealm: cfg.DestinationRealm, Log: log})
	if err != nil {
		return nil, fmt.Errorf("token pusher: %w", err)
	}
	return &hssPusher{c: c}, nil
}

// Push waits (within ctx, the push timeout) for the HSS connection: a UE can finish EAP-TLS before the PAA's
// Diameter connection to the HSS is up, right after a start or a reconnection.
func (p *hssPusher) Push(ctx context.Context, g Grant) error {
	if err := p.c.WaitReady(ctx); err != nil {
		return fmt.Errorf("token push: no HSS connection: %w", err)
	}
	return p.c.Push(ctx, g.IMPI, g.Token, g.Lifetime)
}

// ready reports whether the HSS connection is open (readyz).
func (p *hssPusher) ready() bool {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return p.c.WaitReady(ctx) == nil
}

// Drop drops the IMPI's token at the HSS. Token-Drop names the user only: a PAA with an older session of the
// same IMPI ending after a newer one was granted drops the newer token too, and that UE falls back to AKA.
func (p *hssPusher) Drop(ctx context.Context, g Grant) error {
	return p.c.Drop(ctx, g.IMPI)
}

func (p *hssPusher) close(ctx context.Context) error { return p.c.Close(ctx) }
