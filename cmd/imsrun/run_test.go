package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// waitReady waits for the node's /readyz to answer 200: 503 while the node cannot serve yet.
func TestWaitReady(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "no HSS connection", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	}))
	defer srv.Close()
	n := &node{name: "scscf", ready: srv.URL + "/readyz"}
	if err := waitReady(context.Background(), n, 10*time.Second, nil); err != nil {
		t.Fatalf("waitReady: %v", err)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("%d probes, want 3 (two 503s, then 200)", got)
	}
}

func TestWaitReadyTimeoutAndExit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not yet", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	n := &node{name: "icscf", ready: srv.URL + "/readyz"}
	err := waitReady(context.Background(), n, 300*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "icscf was not ready") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("want a timeout naming the node and the 503, got %v", err)
	}
	exited := make(chan *process, 1)
	exited <- &process{node: n, err: errors.New("exit status 2")}
	err = waitReady(context.Background(), n, 10*time.Second, exited)
	if err == nil || !strings.Contains(err.Error(), "exited during start-up") {
		t.Fatalf("want the node's exit reported, got %v", err)
	}
}

func TestParseOptionsReadyURLs(t *testing.T) {
	o, err := parseOptions([]string{"--pcscf-ready=http://127.0.0.1:19101/readyz"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"hss": "http://127.0.0.1:8080/readyz", "scscf": "http://127.0.0.1:9103/readyz",
		"icscf": "http://127.0.0.1:9102/readyz", "pcscf": "http://127.0.0.1:19101/readyz"}
	for _, n := range o.nodes {
		if n.ready != want[n.name] {
			t.Errorf("%s ready %q, want %q", n.name, n.ready, want[n.name])
		}
	}
}
