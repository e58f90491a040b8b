package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/imscore/imscore/hss/provision"
)

// demoSubscriber is one of the two subscribers provisioned on first start. The keys are test
// values, public on purpose; their bytes avoid 00, 0A, 0D, 5B and 5C, which SIPp 3.6.1 cannot
// take in its aka_K/aka_OP keywords, so the same subscribers work with SIPp.
type demoSubscriber struct {
	IMSI, MSISDN, K, OP, AMF string
}

// demoDomain is the home domain of the demo subscribers' IMSIs (MCC 001, MNC 01; TS 23.003 §13.2).
const demoDomain = "ims.mnc001.mcc001.3gppnetwork.org"

var demoSubscribers = [...]demoSubscriber{
	{IMSI: "001010000000001", MSISDN: "15550000001", K: "a1b2c3d4e5f60718293a4b6c7e8f9012", OP: "c1d2e3f4a5b69788122334455667789f", AMF: "8000"},
	{IMSI: "001010000000002", MSISDN: "15550000002", K: "b2c3d4e5f60718293a4b6c7e8f9012a1", OP: "c1d2e3f4a5b69788122334455667789f", AMF: "8000"},
}

// provisionDemo creates the demo subscribers that do not exist yet and prints all of them.
func provisionDemo(ctx context.Context, apiURL, token string, out *lineWriter) error {
	client, err := provision.NewClient(apiURL, &http.Client{Timeout: 10 * time.Second}, provision.WithToken(token))
	if err != nil {
		return err
	}
	for _, d := range demoSubscribers {
		sub, err := client.CreateSubscriber(ctx, provision.SubscriberRequest{IMSI: d.IMSI, MSISDN: d.MSISDN, K: d.K, OP: d.OP, AMF: d.AMF})
		var apiErr *provision.Error
		switch {
		case err == nil:
			out.printf("imsrun", "provisioned demo subscriber %s", sub.IMPI)
		case errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict:
			// Already there from an earlier start: the store persists, so nothing to do.
		default:
			return fmt.Errorf("create %s: %w", d.IMSI, err)
		}
	}
	for _, d := range demoSubscribers {
		list, err := client.ListSubscribers(ctx, provision.ListQuery{IMSI: d.IMSI})
		if err != nil {
			return fmt.Errorf("read %s back: %w", d.IMSI, err)
		}
		if len(list.Subscribers) != 1 {
			return fmt.Errorf("read %s back: %d subscribers found", d.IMSI, len(list.Subscribers))
		}
		sub := list.Subscribers[0]
		out.printf("imsrun", "demo subscriber IMPI %s  K %s  OP %s  AMF %s", sub.IMPI, d.K, d.OP, d.AMF)
		for _, u := range sub.IMPUs {
			barred := ""
			if u.Barred {
				barred = " (barred)"
			}
			out.printf("imsrun", "    IMPU %s%s", u.IMPU, barred)
		}
	}
	return nil
}
