package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxHealthBody is how much of an unhealthy answer's body health prints: enough for the node's reason (the
// /readyz bodies are one line per check).
const maxHealthBody = 512

// healthCmd is `imsctl health URL...`: a GET of each URL (a node's /healthz or /readyz), bounded by --timeout;
// exit 0 when every one answers 2xx, else 1 with the status and the start of the body on stderr. It is the
// health check of the container image (Dockerfile, docker-compose.yml), which has no shell and no curl: Docker
// reads exit 0 as healthy and 1 as unhealthy. --ca-file makes an https:// admin listener's certificate trusted.
// No token is sent: /healthz and /readyz are open on every node (internal/adminhttp).
func healthCmd(ctx context.Context, r *run, args []string) error {
	fs := r.flagSet("health")
	urls, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(urls) == 0 {
		return usageError("a URL is required, e.g. http://127.0.0.1:9103/readyz")
	}
	for _, u := range urls {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return usageError("%q: want an http:// or https:// URL", u)
		}
	}
	hc, err := r.httpClient()
	if err != nil {
		return err
	}
	var errs []error
	for _, u := range urls {
		if err := r.probe(ctx, hc, u); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(r.env.Stdout, "%s: ok\n", u)
	}
	return errors.Join(errs...)
}

// probe GETs u once and returns nil for a 2xx answer.
func (r *run) probe(ctx context.Context, hc *http.Client, u string) error {
	ctx, cancel := r.callCtx(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
