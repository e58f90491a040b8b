package main

// imsue load --provision keeps the subscribers of its IMSI range that exist already. Made by someone else
// (imsctl subscriber generate, another load with other keys), they would fail every operation of the run with
// 403 or an authentication failure; the command refuses to start instead, naming the first that differs.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/sip/ue"
	"github.com/imscore/imscore/sip/ue/load"
)

// errPopulation marks a range whose pre-existing subscribers do not fit the load.
var errPopulation = errors.New("the HSS's subscribers in this IMSI range do not fit this load")

// populationPage is the subscribers per API call of the check.
const populationPage = 1000

// checkPopulation reads the subscribers of the load's IMSI range from the API and checks that each has the
// load's identity layout (IMPI <imsi>@domain, IMPU sip:<imsi>@domain not barred) and AMF; then it registers
// the first pre-existing one once with the load's K and OP/OPc, which fails on the UE's side (AUTN MAC) when
// the HSS holds other keys (they are write-only: nothing else can compare them).
func checkPopulation(ctx context.Context, c *provision.Client, cfg load.Config, amf string, log *zap.Logger) error {
	first, err := load.IMSI(cfg.FirstIMSI, 0)
	if err != nil {
		return err
	}
	last, err := load.IMSI(cfg.FirstIMSI, cfg.UEs-1)
	if err != nil {
		return err
	}
	prefix := commonPrefix(first, last)
	var (
		probe    string // the first subscriber whose layout fits
		bad      int
		firstBad string
		checked  int
		cursor   string
		wantAMF  = strings.ToLower(amf)
	)
	for {
		page, err := c.ListSubscribers(ctx, provision.ListQuery{IMSIPrefix: prefix, Limit: populationPage, Cursor: cursor})
		if err != nil {
			return fmt.Errorf("read the subscribers of %s…%s: %w", first, last, err)
		}
		for i := range page.Subscribers {
			s := &page.Subscribers[i]
			if s.IMSI < first || s.IMSI > last {
				continue
			}
			checked++
			if why := layoutMismatch(s, cfg.Domain, wantAMF); why != "" {
				if bad++; bad == 1 {
					firstBad = fmt.Sprintf("IMSI %s: %s", s.IMSI, why)
				}
			} else if probe == "" {
				probe = s.IMSI
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if bad > 0 {
		return fmt.Errorf("%w: %d of the %d subscribers of %s…%s differ, the first %s; "+
			"use another --first-imsi, or delete them (imsctl subscriber delete --imsi …)", errPopulation, bad, checked, first, last, firstBad)
	}
	if probe == "" {
		return nil
	}
	return probeKeys(ctx, cfg, probe, log)
}

// layoutMismatch says how s differs from a subscriber load.Provision makes, "" when it does not.
func layoutMismatch(s *provision.Subscriber, domain, amf string) string {
	impi, impu := load.Identities(s.IMSI, domain)
	if s.IMPI != impi {
		return fmt.Sprintf("IMPI %s, the load registers %s", s.IMPI, impi)
	}
	found := false
	for _, u := range s.IMPUs {
		if u.IMPU == impu {
			if u.Barred {
				return fmt.Sprintf("%s is barred (imsctl's conventional layout), the load registers it", impu)
			}
			found = true
		}
	}
	if !found {
		return fmt.Sprintf("no IMPU %s, the load registers it", impu)
	}
	if !s.HasK || !s.HasOP && !s.HasOPc {
		return "no AKA keys (K and OP or OPc)"
	}
	if strings.ToLower(s.AMF) != amf {
		return fmt.Sprintf("AMF %s, the load's is %s", s.AMF, amf)
	}
	return ""
}

// probeKeys registers and de-registers the UE of imsi once: an authentication failure means the HSS holds
// other keys than the load's. Other failures are the run's to report.
func probeKeys(ctx context.Context, cfg load.Config, imsi string, log *zap.Logger) error {
	uc := cfg.UE
	uc.IMPI, uc.IMPU = load.Identities(imsi, cfg.Domain)
	uc.Domain = cfg.Domain
	u, err := ue.New(uc, log.Named("probe"))
	if err != nil {
		return err
	}
	defer u.Close()
	_, err = u.Register(ctx)
	switch {
	case errors.Is(err, ue.ErrAuth):
		return fmt.Errorf("%w: IMSI %s exists with other keys than --k and --op/--opc (%v); "+
			"use another --first-imsi, or delete the range (imsctl subscriber delete --imsi …)", errPopulation, imsi, err)
	case err != nil:
		log.Warn("key check: the first pre-existing UE did not register", zap.String("imsi", imsi), zap.Error(err))
		return nil
	}
	if err := u.Deregister(ctx); err != nil {
		log.Warn("key check: de-registration failed", zap.String("imsi", imsi), zap.Error(err))
	}
	return nil
}

// commonPrefix is the longest prefix of a and b.
func commonPrefix(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return a[:n]
}
