package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/sip/ue"
	"github.com/imscore/imscore/sip/ue/msrp"
)

// msrpOptions are the session-mode messaging flags (RFC 4975; sip/ue/msrp).
type msrpOptions struct{ on, e2ae bool }

func msrpFlags(fs *flag.FlagSet) *msrpOptions {
	var o msrpOptions
	fs.BoolVar(&o.on, "msrp", false, "call: an MSRP session instead of audio, --text sent in a SEND and what the callee sends printed; register: answer MSRP calls and print their messages")
	fs.BoolVar(&o.e2ae, "e2ae", true, "with --msrp: end-to-access-edge security (TS 33.328): Security-Client msrp-tls;mediasec at registration, TCP/TLS/MSRP with a=3ge2ae:requested towards the P-CSCF's AGW")
	return &o
}

// setupMSRP makes the UE's calls MSRP sessions.
func setupMSRP(cfg *ue.Config, o *msrpOptions, log *zap.Logger) (*msrp.Agent, error) {
	if !o.on {
		return nil, nil
	}
	a, err := msrp.New(o.e2ae, log.Named("msrp"))
	if err != nil {
		return nil, err
	}
	cfg.Media, cfg.Mediasec = a, o.e2ae
	return a, nil
}

// chat sends text in the call's MSRP session and logs what arrives until hold ends.
func chat(ctx context.Context, a *msrp.Agent, call *ue.Call, text string, hold time.Duration, log *zap.Logger) error {
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	s, err := a.Session(sctx, call.CallID())
	if err != nil {
		return fmt.Errorf("msrp session: %w", err)
	}
	if err := s.Send(sctx, text); err != nil {
		return fmt.Errorf("msrp: %w", err)
	}
	log.Info("MSRP SEND answered 200", zap.String("call_id", call.CallID()))
	receive(ctx, s, hold, log)
	return nil
}

// serveMSRP logs the messages of every MSRP session a call to this UE sets up, until ctx ends.
func serveMSRP(ctx context.Context, a *msrp.Agent, log *zap.Logger) {
	for {
		s, err := a.Accept(ctx)
		if err != nil {
			return
		}
		log.Info("MSRP session up", zap.String("call_id", s.CallID))
		go receive(ctx, s, 24*time.Hour, log) // ends with ctx
	}
}

func receive(ctx context.Context, s *msrp.Session, hold time.Duration, log *zap.Logger) {
	hctx, cancel := context.WithTimeout(ctx, hold)
	defer cancel()
	for {
		m, err := s.Receive(hctx)
		if err != nil {
			return
		}
		log.Info("MSRP message", zap.String("call_id", s.CallID), zap.String("text", m))
	}
}
