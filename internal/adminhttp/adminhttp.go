// Package adminhttp holds what every node's admin HTTP listener serves alike, beside its own /metrics,
// /healthz and /readyz: the runtime profiles under /debug/pprof/ (with the command line's credentials
// masked) and the Go and process collectors for the node's own Prometheus registry.
package adminhttp

import (
	"io"
	"net/http"
	"net/http/pprof"
	"os"
	"regexp"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// HandlePprof serves the runtime profiles on mux (never http.DefaultServeMux, which no node serves):
// /debug/pprof/ is the index and serves the named profiles (heap, goroutine, allocs, block, mutex,
// threadcreate); cmdline (credentials masked), profile (CPU), symbol and trace have handlers of their own.
// The admin listeners default to loopback; a profile costs CPU only while it is being taken.
func HandlePprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// RuntimeCollectors are the Go runtime (go_memstats_*, go_goroutines …) and process (process_resident_memory_bytes
// …) collectors, for a node's own registry: the benchmark's memory per registered UE is read from them.
func RuntimeCollectors() []prometheus.Collector {
	return []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
}

// cmdline is pprof.Cmdline (the arguments, NUL-separated) with credentials masked: a PostgreSQL DSN given
// with --db carries its password, and the admin listener must not hand it out.
func cmdline(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	args := make([]string, len(os.Args))
	for i, a := range os.Args {
		args[i] = MaskCredentials(a)
	}
	_, _ = io.WriteString(w, strings.Join(args, "\x00"))
}

// Credentials in a command-line argument: a URL's user password (postgres://user:PASSWORD@host) and a
// key=value DSN's password (password=PASSWORD).
var (
	urlPassword = regexp.MustCompile(`(://[^:/@\s]*:)[^@/\s]*@`)
	dsnPassword = regexp.MustCompile(`(?i)(password=)[^\s&]*`)
)

// MaskCredentials replaces the passwords in arg by "xxxxx".
func MaskCredentials(arg string) string {
	arg = urlPassword.ReplaceAllString(arg, "${1}xxxxx@")
	return dsnPassword.ReplaceAllString(arg, "${1}xxxxx")
}
