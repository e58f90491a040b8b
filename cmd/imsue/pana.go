package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/paa"
	"github.com/imscore/imscore/services/paa/eaptls"
	"github.com/imscore/imscore/services/paa/pac"
)

const panaUsage = `usage: imsue pana --paa ADDR --impi IMPI --cert FILE --key FILE --ca FILE [flags]
  authenticates to a PANA agent with EAP-TLS (RFC 5191, RFC 9190), prints the access token
  (docs/fastreg.md), keeps the session until Ctrl-C, --hold or --once, then terminates it.
flags:`

// runPANA is "imsue pana": the PaC of the access-bound fast registration.
func runPANA(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imsue pana", flag.ContinueOnError)
	fs.SetOutput(stderr)
	paaAddr := fs.String("paa", "127.0.0.1:716", "PAA address host:port")
	impi := fs.String("impi", "001010000000001@ims.mnc001.mcc001.3gppnetwork.org", "private identity, the EAP identity (the certificate's rfc822Name)")
	identity := fs.String("identity", "", "EAP identity (default: the IMPI); anonymous@<realm> or @<realm> keeps the IMPI out of the clear")
	certFile := fs.String("cert", "", "UE certificate (PEM), naming the IMPI as rfc822Name subjectAltName")
	keyFile := fs.String("key", "", "its private key (PEM)")
	caFile := fs.String("ca", "", "operator CA of the EAP-TLS server's certificate (PEM)")
	serverName := fs.String("server-name", "", "name the EAP-TLS server's certificate must carry (default: the host of --paa)")
	minTLS := fs.String("min-tls-version", "1.3", "lowest TLS version: 1.3 (RFC 9190) or 1.2 (RFC 5216)")
	tokenFile := fs.String("token-file", "", "also write the token (hex) to this file, for imsue register")
	timeout := fs.Duration("timeout", 30*time.Second, "bound of the authentication")
	hold := fs.Duration("hold", 0, "keep the session this long, then terminate it (0: until Ctrl-C)")
	once := fs.Bool("once", false, "terminate the session right after it opens")
	level := fs.String("log-level", "info", "log level")
	fs.Usage = func() { fmt.Fprintln(stderr, panaUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *certFile == "" || *keyFile == "" || *caFile == "" {
		fmt.Fprintln(stderr, "imsue pana: --cert, --key and --ca are required")
		return 2
	}
	log, err := logging.New(logging.Config{Level: *level, Format: "console"}, "imsue")
	if err != nil {
		fmt.Fprintln(stderr, "imsue:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		fmt.Fprintln(stderr, "imsue pana: certificate:", err)
		return 2
	}
	pool, err := paa.LoadCA(*caFile)
	if err != nil {
		fmt.Fprintln(stderr, "imsue pana:", err)
		return 2
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ServerName: *serverName, MinVersion: tls.VersionTLS13}
	switch *minTLS {
	case "1.3":
	case "1.2":
		tlsCfg.MinVersion = tls.VersionTLS12
	default:
		fmt.Fprintln(stderr, "imsue pana: --min-tls-version: 1.2 or 1.3")
		return 2
	}
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName = hostOf(*paaAddr)
	}
	if *identity == "" {
		*identity = *impi
	}
	actx, cancel := context.WithTimeout(ctx, *timeout)
	s, err := pac.Authenticate(actx, pac.Config{PAA: *paaAddr, EAP: eaptls.PeerConfig{Identity: *identity, TLS: tlsCfg}, Log: log})
	cancel()
	if err != nil {
		fmt.Fprintln(stderr, "imsue pana:", err)
		return 1
	}
	token := eaptls.EncodeToken(s.Token)
	fmt.Fprintf(stdout, "token %s\nlifetime %s\n", token, s.Lifetime)
	if *tokenFile != "" {
		if err := os.WriteFile(*tokenFile, []byte(token+"\n"), 0o600); err != nil {
			fmt.Fprintln(stderr, "imsue pana:", err)
			s.Close()
			return 1
		}
	}
	if !*once {
		var after <-chan time.Time
		if *hold > 0 {
			after = time.After(*hold)
		}
		select {
		case <-ctx.Done():
		case <-after:
		case <-s.Done():
			fmt.Fprintln(stderr, "imsue pana: session ended:", s.Err())
			return 1
		}
	}
	tctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Terminate(tctx); err != nil {
		fmt.Fprintln(stderr, "imsue pana: terminate:", err)
		return 1
	}
	fmt.Fprintln(stdout, "terminated")
	return 0
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
