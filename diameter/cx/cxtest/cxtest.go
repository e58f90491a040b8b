// Package cxtest holds what the fuzz targets of the Cx servers (the HSS, and the S-CSCF for RTR and PPR) check
// of every request they serve.
package cxtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
)

// Serve hands req to h as the peer layer would and checks the outcome: it never hangs (a lock left held), an
// error is a *diameter.Error the peer layer can answer with (RFC 6733 §7), and an answer serializes and decodes
// again with d. input is the fuzz input, named when a check fails.
func Serve(t *testing.T, ctx context.Context, h peer.Handler, req *diam.Message, from peer.PeerInfo, d *dict.Parser, input []byte) {
	t.Helper()
	start := time.Now()
	ans, err := h.ServeDiameter(ctx, req, from)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("ServeDiameter took %v for %x", took, input)
	}
	if err != nil {
		var de *diameter.Error
		if !errors.As(err, &de) {
			t.Fatalf("ServeDiameter returned a bare error for the peer layer to map: %v", err)
		}
		return
	}
	wire, err := ans.Serialize()
	if err != nil {
		t.Fatalf("answer does not serialize: %v", err)
	}
	if _, err := cx.DecodeMessage(wire, d); err != nil {
		t.Fatalf("answer does not decode: %v", err)
	}
}
