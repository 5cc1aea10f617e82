package eqops

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// A token is made, triggered, reset and closed; nil is a token that never triggers.
func TestCancelTokenStates(t *testing.T) {
	tok, err := NewCancelToken()
	if err != nil {
		t.Fatal(err)
	}
	if tok.Triggered() {
		t.Fatal("a new token is triggered")
	}
	tok.Trigger()
	tok.Trigger() // idempotent
	if !tok.Triggered() {
		t.Fatal("not triggered")
	}
	tok.Reset()
	if tok.Triggered() {
		t.Fatal("still triggered after Reset")
	}
	tok.Close()
	tok.Close()
	if tok.Triggered() {
		t.Fatal("a closed token reports triggered")
	}
	var none *CancelToken
	none.Trigger()
	if none.Triggered() {
		t.Fatal("nil is triggered")
	}
	// a closed token given to a call is refused, naming the field
	_, err = NewAWS(AWSOptions{Region: "eu-west-1", Cancel: tok})
	wantField(t, err, ErrInvalid, "Cancel")
}

// Every client and call whose C options carry a token takes it. Nothing reaches a server: each
// call stops at an input check, which shows it went through with the token.
func TestCancelTokenPassed(t *testing.T) {
	tok, err := NewCancelToken()
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	isolateAWS(t)
	a, err := NewAWS(AWSOptions{Region: "eu-west-1", EndpointURL: "http://127.0.0.1:9",
		MaxRetries: -1, Cancel: tok})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	_, err = ConnectPG("host=x password=hunter2 =", PGOptions{Cancel: tok})
	wantField(t, err, ErrInvalid, "conninfo")

	env, dir := offlineTenantEnv(t)
	k, err := NewK8s(K8sOptions{Kubeconfig: filepath.Join(dir, "kubeconfig"), MaxRetries: -1,
		Cancel: tok})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.ApplyManifest("", WriteOptions{Cancel: tok}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("apply of nothing: %v", err)
	}
	if _, err := k.ApplyPath(filepath.Join(dir, "missing"), false, WriteOptions{Cancel: tok}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("apply of a missing path: %v", err)
	}
	err = k.Watch("v1", "ConfigMap", "", WatchOptions{IdleTimeout: -time.Second, Cancel: tok},
		func(string, Object) bool { return false })
	wantField(t, err, ErrInvalid, "opts.idle_timeout_ms")

	if _, err := env.Plan("{}", &TenantRunOptions{Cancel: tok}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("plan of {}: %v", err)
	}
	if _, _, err := env.Fleet("plan", filepath.Join(dir, "none"), &TenantRunOptions{Cancel: tok}); err == nil {
		t.Fatal("fleet over a missing directory succeeded")
	}

	set, err := ParseSLOSet(`{"service": "s", "slos": [{"name": "a", "window": "7d", "target": 99,
"sli": {"events": {"bad": "sum(rate(e[{{.window}}]))", "total": "sum(rate(t[{{.window}}]))"}}}]}`, FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	tok.Trigger()
	// a live report from an address nothing listens on: refused or cancelled, never a hang
	if _, err := set.Report(ReportOptions{PrometheusURL: "http://127.0.0.1:9", Timeout: 2 * time.Second,
		Cancel: tok}); err == nil {
		t.Fatal("a report from nowhere succeeded")
	}
}

// A live report whose Prometheus accepts the connection and never answers (timeout 60 s)
// stops with CodeCanceled soon after another goroutine triggers the token; the way a service
// ties a token to its context.Context.
func TestCancelStopsAStuckReport(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	set, err := ParseSLOSet(`{"service": "s", "slos": [{"name": "a", "window": "7d", "target": 99,
"sli": {"events": {"bad": "sum(rate(e[{{.window}}]))", "total": "sum(rate(t[{{.window}}]))"}}}]}`, FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	tok, err := NewCancelToken()
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	stop := context.AfterFunc(ctx, tok.Trigger)
	defer stop()
	t0 := time.Now()
	_, err = set.Report(ReportOptions{PrometheusURL: "http://" + ln.Addr().String(),
		Timeout: time.Minute, Cancel: tok})
	if !errors.Is(err, ErrCanceled) {
		t.Fatalf("want a cancelled report, got %v", err)
	}
	if took := time.Since(t0); took > 30*time.Second {
		t.Fatalf("stopped after %v: by the timeout, not the token", took)
	}
}
