// Command imsue is a simulated IMS handset for people: it registers with IMS-AKA through a
// P-CSCF and sends a MESSAGE or places a call (sip/ue does the work).
//
//	imsue register --impi 001010000000001@ims.mnc001.mcc001.3gppnetwork.org --k 465b5ce8b199b49faa5f0a2ee238a6bc --opc cd63cb71954a9f4e48a5994e37a02baf
//	imsue message  ... --to sip:001010000000002@ims.mnc001.mcc001.3gppnetwork.org --text hello
//	imsue call     ... --to sip:001010000000002@ims.mnc001.mcc001.3gppnetwork.org --hold 5s
//
// It sends what a handset sends (TS 24.229 §5.1): +sip.instance and reg-id, Supported path, gruu,
// outbound, 100rel and timer, and, over the SAs, Security-Verify with sec-agree in Require and
// Proxy-Require on every request; it refreshes its registration, PRACKs reliable provisional
// responses, and reacts to 305, 408, 423, 500, 503 and 504 (sip/ue).
//
// Without --sec-agree the UE registers without IPsec (as SIPp does); with it, it offers
// ipsec-3gpp and, with --ipsec, installs its SAs in the current network namespace (root).
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
	"go.uber.org/zap"

	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/internal/version"
	"github.com/imscore/imscore/sip/ipsec"
	"github.com/imscore/imscore/sip/ue"
	"github.com/imscore/imscore/sip/ue/msrp"
)

const usage = `usage: imsue register|message|call|load|pana|version [flags]
  register   register, stay registered until Ctrl-C (or --once), then de-register
  message    register, send one MESSAGE (--to, --text), de-register
  call       register, INVITE --to, hold --hold, BYE, de-register (--msrp: an MSRP session carrying --text)
  load       N UEs at a target rate (imsue load --help)
  pana       PANA/EAP-TLS to an access agent, print the access token (imsue pana --help)
  presence publish  register, PUBLISH --basic and --text as presence, hold --hold, remove it, de-register
  presence watch    register, SUBSCRIBE to --to's presence, print each NOTIFY for --hold, de-register
  presence rules    PUT the pres-rules letting --to watch (--handling) to the XDMS at --xcap (no SIP; with
                    --bsf, GBA: bootstrap with --k/--opc and authenticate with the derived key)
  version    print the version (also --version)
flags:`

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "version", "--version", "-version":
			fmt.Println("imsue", version.String())
			return 0
		case "load":
			ctx, stop := signalContext()
			defer stop()
			return runLoad(ctx, args[1:], os.Stdout, os.Stderr)
		case "pana":
			ctx, stop := signalContext()
			defer stop()
			return runPANA(ctx, args[1:], os.Stdout, os.Stderr)
		}
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
	if args[0] == "presence" && len(args) > 1 {
		args = append([]string{"presence-" + args[1]}, args[2:]...)
	}
	cmd := args[0]
	fs := flag.NewFlagSet("imsue "+cmd, flag.ContinueOnError)
	impi := fs.String("impi", "001010000000001@ims.mnc001.mcc001.3gppnetwork.org", "private identity")
	impu := fs.String("impu", "", "public identity (default sip:<impi>)")
	pcscf := fs.String("pcscf", "127.0.0.1:5060", "P-CSCF address ip:port")
	local := fs.String("local", "", "own IP address (default: loopback of the P-CSCF's family)")
	transport := fs.String("transport", "udp", "udp or tcp")
	k := fs.String("k", "", "K, 32 hex digits")
	op := fs.String("op", "", "OP, 32 hex digits (or --opc)")
	opc := fs.String("opc", "", "OPc, 32 hex digits (or --op)")
	secAgree := fs.Bool("sec-agree", false, "offer ipsec-3gpp security agreement (RFC 3329)")
	withIPsec := fs.Bool("ipsec", false, "install the UE's SAs in the kernel (needs ESP and CAP_NET_ADMIN)")
	expires := fs.Duration("expires", 600*time.Second, "registration expiry")
	to := fs.String("to", "", "target URI for message and call")
	text := fs.String("text", "hello from imsue", "MESSAGE body")
	hold := fs.Duration("hold", 3*time.Second, "how long a call stays up")
	once := fs.Bool("once", false, "register: de-register right away instead of waiting for Ctrl-C")
	instance := fs.String("instance", "", "+sip.instance of the Contact, urn:gsma:imei:… or urn:uuid:… (default: a random urn:uuid)")
	regID := fs.Int("reg-id", 1, "reg-id of the Contact (RFC 5626); -1: none")
	refresh := fs.Bool("refresh", true, "re-register before the registration expires (TS 24.229 §5.1.1.4.1)")
	noAnswer := fs.Bool("no-answer", false, "ring on an incoming INVITE and never answer it (the caller cancels)")
	maxRetryAfter := fs.Duration("max-retry-after", 32*time.Second, "longest Retry-After of a 500 or 503 waited out before trying again")
	precondition := fs.Bool("precondition", false, "call: offer precondition and send an UPDATE after the PRACK of the 183")
	cancelRinging := fs.Bool("cancel-on-ringing", false, "call: CANCEL the INVITE when the callee rings (180)")
	pf := presenceFlags(fs)
	mf := msrpFlags(fs) // msrp.go
	fr := fastregFlags(fs)
	level := fs.String("log-level", "info", "log level")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() { fmt.Fprintln(os.Stderr, usage); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Println("imsue", version.String())
		return 0
	}
	if cmd == "presence-rules" { // XCAP only: no registration; the keys only with --bsf (GBA)
		owner := *impu
		if owner == "" {
			owner = "sip:" + *impi
		}
		var client xcapClient = http.DefaultClient
		if pf.bsf != "" {
			keys, err := parseKeys(*k, *op, *opc)
			if err != nil {
				fmt.Fprintln(os.Stderr, "imsue:", err)
				return 2
			}
			if client, err = gbaClient(pf.bsf, *impi, keys); err != nil {
				fmt.Fprintln(os.Stderr, "imsue:", err)
				return 2
			}
		}
		if err := putRules(context.Background(), client, owner, *to, pf); err != nil {
			fmt.Fprintln(os.Stderr, "imsue:", err)
			return 1
		}
		return 0
	}
	log, err := logging.New(logging.Config{Level: *level, Format: "console"}, "imsue")
	if err != nil {
		fmt.Fprintln(os.Stderr, "imsue:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	cfg, err := buildConfig(*impi, *impu, *pcscf, *local, *transport, *k, *op, *opc, *secAgree, *expires)
	if err != nil {
		fmt.Fprintln(os.Stderr, "imsue:", err)
		return 2
	}
	cfg.Instance, cfg.RegID, cfg.Refresh, cfg.NoAnswer, cfg.MaxRetryAfter = *instance, *regID, *refresh, *noAnswer, *maxRetryAfter
	if err := fr.apply(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "imsue:", err)
		return 2
	}
	agent, err := setupMSRP(&cfg, mf, log) // msrp.go
	if err != nil {
		fmt.Fprintln(os.Stderr, "imsue:", err)
		return 1
	}
	if agent != nil {
		defer agent.Close()
	}
	if *regID == 0 || *maxRetryAfter <= 0 {
		fmt.Fprintln(os.Stderr, "imsue: --reg-id must not be 0 and --max-retry-after must be positive")
		return 2
	}
	if *withIPsec {
		m, err := ipsec.NewManager(netns.None(), ipsec.Config{ReqIDBase: 0x55450000, ReqIDCount: 0x1000}, log)
		if err != nil {
			fmt.Fprintln(os.Stderr, "imsue:", err)
			return 1
		}
		defer m.Close()
		cfg.SAs = m
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := ue.InviteOptions{Precondition: *precondition}
	if *cancelRinging {
		opts.CancelOn = 180
	}
	if err := do(ctx, cmd, cfg, log, *to, *text, *hold, *once, opts, pf); err != nil {
		fmt.Fprintln(os.Stderr, "imsue:", err)
		return 1
	}
	return 0
}

// parseKeys makes the USIM keys from --k and --op or --opc.
func parseKeys(k, op, opc string) (aka.Keys, error) {
	kb, err := hex.DecodeString(k)
	if err != nil {
		return aka.Keys{}, fmt.Errorf("--k: %w", err)
	}
	opb, err := hex.DecodeString(op)
	if err != nil {
		return aka.Keys{}, fmt.Errorf("--op: %w", err)
	}
	opcb, err := hex.DecodeString(opc)
	if err != nil {
		return aka.Keys{}, fmt.Errorf("--opc: %w", err)
	}
	return aka.NewKeys(kb, opb, opcb, [2]byte{0x80, 0x00})
}

func buildConfig(impi, impu, pcscf, local, transport, k, op, opc string, secAgree bool, expires time.Duration) (ue.Config, error) {
	if impu == "" {
		impu = "sip:" + impi
	}
	ap, err := netip.ParseAddrPort(pcscf)
	if err != nil {
		return ue.Config{}, fmt.Errorf("--pcscf %q: %w", pcscf, err)
	}
	var localAddr netip.Addr
	if local != "" {
		if localAddr, err = netip.ParseAddr(local); err != nil {
			return ue.Config{}, fmt.Errorf("--local %q: %w", local, err)
		}
	}
	keys, err := parseKeys(k, op, opc)
	if err != nil {
		return ue.Config{}, err
	}
	return ue.Config{IMPI: impi, IMPU: impu, PCSCF: ap, Local: localAddr, Transport: transport, Keys: keys,
		SecAgree: secAgree, Expires: expires}, nil
}

func do(ctx context.Context, cmd string, cfg ue.Config, log *zap.Logger, to, text string, hold time.Duration, once bool, opts ue.InviteOptions, pf *presenceOptions) error {
	switch cmd {
	case "register", "message", "call", "presence-publish", "presence-watch":
	default:
		return fmt.Errorf("unknown command %q (register, message, call, presence publish|watch|rules)", cmd)
	}
	if cmd != "register" && cmd != "presence-publish" && to == "" {
		return errors.New("--to is required")
	}
	u, err := ue.New(cfg, log)
	if err != nil {
		return err
	}
	defer u.Close()
	reg, err := u.Register(ctx)
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	log.Info("registered", zap.Duration("expires", reg.Expires), zap.Strings("associated", reg.Associated),
		zap.Strings("service_route", reg.ServiceRoute), zap.Bool("sec_agree", reg.SecAgree), zap.Stringer("algs", reg.Algorithms))
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := u.Deregister(dctx); err != nil {
			log.Warn("de-register", zap.Error(err))
		} else {
			log.Info("de-registered")
		}
	}()
	switch cmd {
	case "register":
		if !once {
			log.Info("registered; Ctrl-C de-registers")
			if a, ok := cfg.Media.(*msrp.Agent); ok {
				go serveMSRP(ctx, a, log) // msrp.go; ends with ctx
			}
			<-ctx.Done()
		}
	case "message":
		res, err := u.Message(ctx, to, text)
		if err != nil {
			return fmt.Errorf("message: %w", err)
		}
		log.Info("MESSAGE answered", zap.Int("code", res.StatusCode), zap.String("reason", res.Reason))
	case "call":
		call, err := u.InviteWith(ctx, to, opts)
		if err != nil {
			return fmt.Errorf("call: %w", err)
		}
		log.Info("call set up", zap.Ints("provisional", call.Provisionals()), zap.Any("pracked", call.PRACKed()),
			zap.Bool("updated", call.Updated()))
		log.Info("call answered; holding", zap.Duration("hold", hold))
		if a, ok := cfg.Media.(*msrp.Agent); ok {
			if err := chat(ctx, a, call, text, hold, log); err != nil { // msrp.go
				log.Warn("MSRP", zap.Error(err))
			}
		} else {
			select {
			case <-time.After(hold):
			case <-ctx.Done():
			}
		}
		hctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := call.Hangup(hctx); err != nil {
			return fmt.Errorf("hangup: %w", err)
		}
		log.Info("call ended")
	case "presence-publish":
		return publish(ctx, u, log, cfg.IMPU, pf.basic, text, hold)
	case "presence-watch":
		return watch(ctx, u, log, to, hold)
	}
	return nil
}
