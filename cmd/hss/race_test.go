package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/adminhttp/adminhttptest"
	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/storage/postgres/pgtest"
)

// TestSQNRaceTwoProcesses runs two bin/hss processes on one PostgreSQL database, as two HSS
// replicas behind a Diameter load balancer would, and fires MARs for one subscriber at both at
// once. No two vectors may carry the same SQN (TS 33.102 §6.3.2, Annex C), and a USIM must accept
// every vector in SQN order: the row lock in the store, not process memory, orders them.
func TestSQNRaceTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and two HSS processes")
	}
	dsn := pgtest.Start(t)
	bin := buildHSS(t)
	const workersPerProcess, marsPerWorker = 4, 10
	type proc struct{ diam, api string }
	var procs []proc
	tokensFile, tokens := adminhttptest.TokensFile(t)
	for i := 0; i < 2; i++ {
		p := proc{diam: freePort(t), api: freePort(t)}
		args := []string{"--db", dsn, "--diameter-listen", p.diam, "--api-listen", p.api, "--log-format", "json",
			"--api-tokens-file", tokensFile}
		for w := range workersPerProcess {
			args = append(args, "--diameter-peer", fmt.Sprintf("scscf:scscf%d.%s@127.0.0.1", w, hss.DefaultDomain))
		}
		startHSS(t, bin, args...)
		procs = append(procs, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	api, err := provision.NewClient("http://"+procs[0].api, nil, provision.WithToken(tokens[httpauth.ScopeProvision]))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := api.CreateSubscriber(ctx, provision.SubscriberRequest{IMSI: "001010000000777", MSISDN: "15550777",
		K: hsstest.TestK, OP: hsstest.TestOP})
	if err != nil {
		t.Fatal(err)
	}
	impu := "sip:15550777@" + hss.DefaultDomain

	var (
		mu      sync.Mutex
		vectors []cx.SIPAuthDataItem
		wg      sync.WaitGroup
		errs    = make(chan error, 2*workersPerProcess)
	)
	for _, p := range procs {
		for w := 0; w < workersPerProcess; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				host := fmt.Sprintf("scscf%d.%s", w, hss.DefaultDomain)
				node, d, err := dialHSS(ctx, p.diam, host)
				if err != nil {
					errs <- err
					return
				}
				defer node.Close(ctx)
				for i := 0; i < marsPerWorker; i++ {
					items, err := requestVectors(ctx, node, d, host, sub.IMPI, impu)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					vectors = append(vectors, items...)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if want := 2 * workersPerProcess * marsPerWorker; len(vectors) != want {
		t.Fatalf("%d vectors, want %d", len(vectors), want)
	}

	k, _ := hex.DecodeString(hsstest.TestK)
	op, _ := hex.DecodeString(hsstest.TestOP)
	keys, err := aka.NewKeys(k, op, nil, [2]byte{0x80, 0x00})
	if err != nil {
		t.Fatal(err)
	}
	type vector struct {
		rand, autn [16]byte
		sqn        aka.SQN
	}
	var vs []vector
	seen := map[aka.SQN]bool{}
	for _, it := range vectors {
		var v vector
		copy(v.rand[:], it.Authenticate[:16])
		copy(v.autn[:], it.Authenticate[16:32])
		probe, err := aka.NewUSIM(keys, aka.DefaultUSIMConfig()) // a fresh USIM reads SQN ⊕ AK and checks MAC-A
		if err != nil {
			t.Fatal(err)
		}
		res, err := probe.Authenticate(v.rand, v.autn)
		if err != nil {
			t.Fatalf("vector rejected by a fresh USIM: %v", err)
		}
		if seen[res.SQN] {
			t.Fatalf("SQN %s issued twice across the two HSS processes", res.SQN)
		}
		seen[res.SQN] = true
		v.sqn = res.SQN
		vs = append(vs, v)
	}
	slices.SortFunc(vs, func(a, b vector) int { return int(a.sqn) - int(b.sqn) })
	usim, err := aka.NewUSIM(keys, aka.DefaultUSIMConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if _, err := usim.Authenticate(v.rand, v.autn); err != nil {
			t.Fatalf("USIM rejects SQN %s in order: %v", v.sqn, err)
		}
	}
}

// startHSS starts bin/hss with args, waits until it is healthy and stops it with SIGTERM at cleanup.
func startHSS(t *testing.T, bin string, args ...string) {
	t.Helper()
	var api string
	for i := range args {
		if args[i] == "--api-listen" && i+1 < len(args) {
			api = args[i+1]
		}
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("hss exited with %v after SIGTERM\n%s", err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("hss did not stop after SIGTERM")
		}
	})
	waitHealthy(t, api, exited, &stderr)
}

// dialHSS connects a Cx client node acting as an S-CSCF with the given Origin-Host.
func dialHSS(ctx context.Context, addr, host string) (*peer.Node, *dict.Parser, error) {
	d, err := cx.NewDictionary()
	if err != nil {
		return nil, nil, err
	}
	node, err := peer.New(peer.Config{OriginHost: host, OriginRealm: hss.DefaultDomain,
		Applications: []peer.Application{{ID: cx.AppID, VendorID: cx.Vendor3GPP}}, Dictionary: d, Log: zap.NewNop()},
		peer.HandlerFunc(func(context.Context, *diam.Message, peer.PeerInfo) (*diam.Message, error) {
			return nil, diameter.Errorf(diameter.CommandUnsupported, "test client")
		}))
	if err != nil {
		return nil, nil, err
	}
	if err := node.Connect(ctx, peer.PeerConfig{Address: addr, Host: hss.DefaultOriginHost}); err != nil {
		return nil, nil, err
	}
	if _, err := node.WaitPeer(ctx, hss.DefaultOriginHost); err != nil {
		return nil, nil, err
	}
	return node, d, nil
}

// requestVectors sends one MAR for a single AKAv1-MD5 vector and returns the MAA's items.
func requestVectors(ctx context.Context, node *peer.Node, d *dict.Parser, host, impi, impu string) ([]cx.SIPAuthDataItem, error) {
	msg, err := (&cx.MAR{SessionID: fmt.Sprintf("%s;%d", host, time.Now().UnixNano()), OriginHost: host, OriginRealm: hss.DefaultDomain,
		DestinationRealm: hss.DefaultDomain, UserName: impi, PublicIdentity: impu,
		SIPAuthDataItem: cx.SIPAuthDataItem{Scheme: cx.SchemeAKAv1MD5}, SIPNumberAuthItems: 1,
		ServerName: hss.DefaultSCSCFName}).Marshal(d)
	if err != nil {
		return nil, err
	}
	ans, err := node.Request(ctx, msg)
	if err != nil {
		return nil, err
	}
	maa, err := cx.ParseMAA(ans)
	if err != nil {
		return nil, err
	}
	if code, vendor := maa.Result(); code != diameter.Success {
		return nil, fmt.Errorf("MAA result %d (vendor %d)", code, vendor)
	}
	return maa.SIPAuthDataItems, nil
}
