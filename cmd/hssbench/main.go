// Command hssbench measures the HSS: it provisions N conventional subscribers in bulk (hsstest.Subscribers,
// TS 35.208 test keys), starts an HSS node (hsscx.Start) on the chosen store, and fires MARs for random
// subscribers from C concurrent requesters over K S-CSCF Diameter connections for D seconds. It prints the
// bulk-provisioning time, MAR/s and the latency percentiles. docs/hss.md has the numbers and the commands.
//
//	hssbench --subscribers 1000000 --duration 30s                  # embedded SQLite in a temporary directory
//	hssbench --pgtest --subscribers 1000000 --duration 30s         # a throwaway PostgreSQL cluster
//	hssbench --db 'postgres://u:p@host/db?pool_max_conns=16' ...   # an existing database (must be empty)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsscx"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/storage"
	"github.com/imscore/imscore/storage/postgres/pgtest"
)

// options are the command line.
type options struct {
	subscribers   int
	chunk         int
	db            string
	pgtest        bool
	pgConns       int
	concurrency   []int
	connections   int
	duration      time.Duration
	vectors       uint
	skipProvision bool
	keep          bool
	logLevel      string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("hssbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.subscribers, "subscribers", 1000000, "subscribers to provision (and pick from)")
	fs.IntVar(&o.chunk, "chunk", 100000, "subscribers per BulkCreate call")
	fs.StringVar(&o.db, "db", "", "store DSN (default: SQLite in a temporary directory); a PostgreSQL database must be empty")
	fs.BoolVar(&o.pgtest, "pgtest", false, "start a throwaway PostgreSQL cluster (system PostgreSQL binaries) and use it")
	fs.IntVar(&o.pgConns, "pg-conns", 16, "pool_max_conns of the HSS's PostgreSQL pool with --pgtest")
	levels := fs.String("concurrency", "64", "concurrent MAR requesters; a comma-separated list runs one phase per value")
	fs.IntVar(&o.connections, "connections", 4, "S-CSCF Diameter connections the requesters share")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "how long to fire MARs")
	fs.UintVar(&o.vectors, "vectors", 1, "SIP-Number-Auth-Items per MAR")
	fs.BoolVar(&o.skipProvision, "skip-provision", false, "the store already holds the subscribers (a previous --keep run)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary SQLite database and print its path")
	fs.StringVar(&o.logLevel, "log-level", "warn", "HSS log level")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	for _, f := range strings.Split(*levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			fmt.Fprintf(stderr, "hssbench: --concurrency %q: want positive numbers separated by commas\n", *levels)
			return 2
		}
		o.concurrency = append(o.concurrency, c)
	}
	if o.subscribers < 1 || o.chunk < 1 || o.connections < 1 || o.duration <= 0 || o.vectors < 1 {
		fmt.Fprintln(stderr, "hssbench: --subscribers, --chunk, --connections, --duration and --vectors must be positive")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := bench(ctx, o, stdout); err != nil {
		fmt.Fprintln(stderr, "hssbench:", err)
		return 1
	}
	return 0
}

func bench(ctx context.Context, o options, out io.Writer) error {
	dsn := o.db
	kind := "sqlite"
	switch {
	case o.pgtest:
		c, err := pgtest.StartCluster()
		if err != nil {
			return err
		}
		defer c.Stop()
		sep := "?"
		if strings.Contains(c.DSN("postgres"), "?") {
			sep = "&"
		}
		dsn = c.DSN("postgres") + fmt.Sprintf("%spool_max_conns=%d", sep, o.pgConns)
		kind = "postgres (pgtest)"
	case dsn == "":
		dir, err := os.MkdirTemp("", "hssbench-")
		if err != nil {
			return err
		}
		if o.keep {
			fmt.Fprintln(out, "database kept in", dir)
		} else {
			defer os.RemoveAll(dir)
		}
		dsn = "sqlite://" + filepath.Join(dir, "hss.db")
	default:
		if k, _, err := storage.ParseDSN(dsn); err != nil {
			return err
		} else if k == storage.KindPostgres {
			kind = "postgres"
		}
	}
	fmt.Fprintf(out, "store: %s\n", kind)

	if !o.skipProvision {
		took, err := provision(ctx, dsn, o, out)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "bulk provision: %d subscribers in %v (%.0f subscribers/s)\n", o.subscribers, took.Round(time.Millisecond),
			float64(o.subscribers)/took.Seconds())
	}

	cfg := hss.DefaultConfig()
	cfg.Diameter.Listen, cfg.API.Listen, cfg.Store.DSN = "127.0.0.1:0", "127.0.0.1:0", dsn
	cfg.Diameter.MaxConcurrentRequests = max(cfg.Diameter.MaxConcurrentRequests, 2*slices.Max(o.concurrency))
	cfg.Log.Level = o.logLevel
	// The benchmark's S-CSCFs, from loopback (the HSS accepts only configured peers).
	for i := range o.connections {
		cfg.Diameter.Peers = append(cfg.Diameter.Peers, peer.AllowedPeer{Host: fmt.Sprintf("scscf%d.%s", i, hss.DefaultDomain),
			Realm: hss.DefaultDomain, Sources: []string{"127.0.0.1"}, Roles: []string{hss.RoleSCSCF}})
	}
	log, err := logging.New(cfg.Log, "hss")
	if err != nil {
		return err
	}
	nodeCtx, stopNode := context.WithCancel(ctx)
	node, err := hsscx.Start(nodeCtx, cfg, log, hsscx.Options{})
	if err != nil {
		stopNode()
		return err
	}
	defer func() {
		stopNode()
		_ = node.Wait()
	}()

	clients := make([]*client, o.connections)
	for i := range clients {
		if clients[i], err = connect(ctx, node.DiameterAddr().String(), fmt.Sprintf("scscf%d.%s", i, hss.DefaultDomain)); err != nil {
			return err
		}
		defer clients[i].close()
	}
	for _, c := range o.concurrency {
		fmt.Fprintf(out, "firing MARs: %d requesters over %d connections for %v, %d vector(s) each\n",
			c, o.connections, o.duration, o.vectors)
		res := fire(ctx, clients, c, o)
		if res.ok == 0 {
			return fmt.Errorf("no MAR succeeded (%d errors; first: %v)", res.failed, res.firstErr)
		}
		lat := res.latencies
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
		fmt.Fprintf(out, "MAR: %d ok, %d failed in %v: %.0f MAR/s\n", res.ok, res.failed, res.took.Round(time.Millisecond),
			float64(res.ok)/res.took.Seconds())
		fmt.Fprintf(out, "latency: p50 %v  p90 %v  p99 %v  max %v\n", pct(0.50).Round(time.Microsecond),
			pct(0.90).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
		if res.failed > 0 {
			fmt.Fprintf(out, "first error: %v\n", res.firstErr)
		}
	}
	return nil
}

// provision creates the subscribers in chunks and returns the time BulkCreate took.
func provision(ctx context.Context, dsn string, o options, out io.Writer) (time.Duration, error) {
	db, err := storage.OpenAndMigrate(ctx, dsn, zap.NewNop())
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var took time.Duration
	for first := 0; first < o.subscribers; first += o.chunk {
		n := min(o.chunk, o.subscribers-first)
		subs := hsstest.Subscribers(first, n)
		if first == 0 {
			subs[0].ServiceProfiles = []hss.ServiceProfile{hsstest.Profile(hsstest.DefaultProfileID)}
		}
		start := time.Now()
		if err := db.BulkCreate(ctx, subs); err != nil {
			return 0, fmt.Errorf("bulk create %d..%d: %w", first, first+n-1, err)
		}
		took += time.Since(start)
		fmt.Fprintf(out, "  %d/%d provisioned (%v)\n", first+n, o.subscribers, took.Round(time.Millisecond))
	}
	return took, nil
}

// result is what the requesters measured.
type result struct {
	ok, failed int
	firstErr   error
	latencies  []time.Duration
	took       time.Duration
}

func fire(ctx context.Context, clients []*client, concurrency int, o options) result {
	// Requests in flight at the deadline complete (they are measured, Diameter has no cancel); ctx only
	// stops the run early on SIGINT.
	deadline := time.Now().Add(o.duration)
	var mu sync.Mutex
	var res result
	var wg sync.WaitGroup
	var seq atomic.Uint64
	start := time.Now()
	for w := range concurrency {
		c := clients[w%len(clients)]
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			var lat []time.Duration
			ok, failed := 0, 0
			var firstErr error
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := rng.IntN(o.subscribers)
				impi := hsstest.IMPI(fmt.Sprintf("00101%010d", i))
				impu := fmt.Sprintf("sip:1555%08d@%s", i, hss.DefaultDomain)
				t0 := time.Now()
				err := c.mar(ctx, seq.Add(1), impi, impu, uint32(o.vectors))
				if ctx.Err() != nil {
					break // interrupted, not a failure
				}
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
				ok++
			}
			mu.Lock()
			res.ok += ok
			res.failed += failed
			res.latencies = append(res.latencies, lat...)
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.took = time.Since(start)
	return res
}

// client is one S-CSCF connection.
type client struct {
	node *peer.Node
	host string
	d    *dict.Parser
}

func connect(ctx context.Context, addr, host string) (*client, error) {
	d, err := cx.NewDictionary()
	if err != nil {
		return nil, err
	}
	node, err := peer.New(peer.Config{OriginHost: host, OriginRealm: hss.DefaultDomain,
		Applications: []peer.Application{{ID: cx.AppID, VendorID: cx.Vendor3GPP}}, Dictionary: d,
		RequestTimeout: 30 * time.Second, MaxConcurrentRequests: 1024, Log: zap.NewNop(),
		// A benchmark measures the HSS as it is: a slow HSS is not routed around, every request waits.
		MaxConsecutiveTimeouts: -1},
		peer.HandlerFunc(func(context.Context, *diam.Message, peer.PeerInfo) (*diam.Message, error) {
			return nil, diameter.Errorf(diameter.UnableToComply, "benchmark client")
		}))
	if err != nil {
		return nil, err
	}
	c := &client{node: node, host: host, d: d}
	if err := node.Connect(ctx, peer.PeerConfig{Address: addr, Host: hss.DefaultOriginHost}); err != nil {
		c.close()
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := node.WaitPeer(wctx, hss.DefaultOriginHost); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *client) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.node.Close(ctx)
}

func (c *client) mar(ctx context.Context, n uint64, impi, impu string, vectors uint32) error {
	msg, err := (&cx.MAR{SessionID: fmt.Sprintf("%s;1;%d", c.host, n), OriginHost: c.host, OriginRealm: hss.DefaultDomain,
		DestinationRealm: hss.DefaultDomain, UserName: impi, PublicIdentity: impu,
		SIPAuthDataItem: cx.SIPAuthDataItem{Scheme: cx.SchemeAKAv1MD5}, SIPNumberAuthItems: vectors,
		ServerName: hss.DefaultSCSCFName}).Marshal(c.d)
	if err != nil {
		return err
	}
	ans, err := c.node.Request(ctx, msg)
	if err != nil {
		return err
	}
	maa, err := cx.ParseMAA(ans)
	if err != nil {
		return err
	}
	if code, vendor := maa.Result(); code != diameter.Success || len(maa.SIPAuthDataItems) != int(vectors) {
		return fmt.Errorf("MAA %s: result %d (vendor %d), %d vectors", impi, code, vendor, len(maa.SIPAuthDataItems))
	}
	return nil
}
