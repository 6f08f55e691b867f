package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func smoke(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

const (
	healthy     = `{"status": "ok", "database": {"ok": true}, "redis": {"ok": true}}`
	dbRefuses   = `{"status": "degraded", "database": {"ok": false, "reason": "access-denied"}, "redis": {"ok": true}}`
	redisDown   = `{"status": "degraded", "database": {"ok": true}, "redis": {"ok": false, "reason": "unreachable"}}`
	notMigrated = `{"status": "degraded", "database": {"ok": false, "reason": "not-migrated"}, "redis": {"ok": true}}`
)

var keys = map[string]string{"MERCURE_PUBLISHER_JWT_KEY": "publisher-key", "MERCURE_SUBSCRIBER_JWT_KEY": "subscriber-key"}

// fakeStack answers as a stack does, and each field breaks one promise.
type fakeStack struct {
	status       []string // status.php?strict=1's answers in turn ("502" for a proxy not ready)
	hiddenStatus bool     // /status.php is a 404, as on AWS
	noHeaders    bool
	noHSTS       bool
	servesDotenv bool
	hubDrops     bool // the hub accepts the publish but delivers nothing
	calls        atomic.Int32

	mu          sync.Mutex
	subscribers map[string][]chan string
}

func (f *fakeStack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !f.noHeaders {
		for k, v := range securityHeaders {
			w.Header().Set(k, v)
		}
		if r.TLS != nil && !f.noHSTS {
			w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		}
	}
	switch r.URL.Path {
	case "/":
		fmt.Fprint(w, "<html>sudoku</html>")
	case "/status.php":
		if f.hiddenStatus {
			http.NotFound(w, r)
			return
		}
		i := min(int(f.calls.Add(1))-1, len(f.status)-1)
		if f.status[i] == "502" {
			http.Error(w, "Bad Gateway", http.StatusBadGateway)
			return
		}
		code := http.StatusOK
		if !strings.Contains(f.status[i], `"ok"`) || strings.Contains(f.status[i], "degraded") {
			code = http.StatusServiceUnavailable
		}
		w.WriteHeader(code)
		fmt.Fprint(w, f.status[i])
	case "/.env":
		if f.servesDotenv {
			fmt.Fprint(w, "APP_SECRET=x")
			return
		}
		http.Error(w, "Forbidden", http.StatusForbidden)
	case "/.well-known/mercure":
		f.mercure(w, r)
	default:
		http.NotFound(w, r)
	}
}

// mercure is a small hub: JWTs checked against the keys, private updates to authorized
// subscribers only.
func (f *fakeStack) mercure(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if r.Method == http.MethodPost {
		if token != jwt(keys["MERCURE_PUBLISHER_JWT_KEY"], `{"mercure":{"publish":["*"]}}`) {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		_ = r.ParseForm()
		f.mu.Lock()
		if !f.hubDrops {
			for _, s := range f.subscribers[r.Form.Get("topic")] {
				s <- r.Form.Get("data")
			}
		}
		f.mu.Unlock()
		fmt.Fprint(w, "urn:uuid:1")
		return
	}
	if token != jwt(keys["MERCURE_SUBSCRIBER_JWT_KEY"], `{"mercure":{"subscribe":["*"]}}`) {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	updates := make(chan string, 1)
	f.mu.Lock()
	if f.subscribers == nil {
		f.subscribers = map[string][]chan string{}
	}
	topic := r.URL.Query().Get("topic")
	f.subscribers[topic] = append(f.subscribers[topic], updates)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	select {
	case data := <-updates:
		fmt.Fprintf(w, "data: %s\n\n", data)
		w.(http.Flusher).Flush()
	case <-r.Context().Done():
	}
}

func serve(t *testing.T, f *fakeStack) string {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestSmokeKeepsAndBreaksPromises(t *testing.T) {
	cases := []struct {
		name  string
		stack *fakeStack
		args  []string
		code  int
		want  string
	}{
		{"a stack that keeps its promises", &fakeStack{status: []string{healthy}}, nil, 0, "keeps its promises"},
		{"a proxy not ready yet", &fakeStack{status: []string{"502", healthy}}, nil, 0, "status: the app reaches MySQL and Redis"},
		{"MySQL refuses the app", &fakeStack{status: []string{dbRefuses}}, nil, 1, "status: MySQL refuses the app's credentials (access-denied"},
		{"Redis is unreachable", &fakeStack{status: []string{redisDown}}, nil, 1, "status: the app cannot reach Redis (unreachable"},
		{"the schema is not migrated", &fakeStack{status: []string{notMigrated}}, nil, 1, "status: MySQL lacks the schema the app's code expects (the release step has not applied its migrations) (not-migrated"},
		{"status hidden, as on AWS", &fakeStack{hiddenStatus: true}, []string{"-status", "hidden"}, 0, "/status.php is not served to the internet"},
		{"status public where it must be hidden", &fakeStack{status: []string{healthy}}, []string{"-status", "hidden"}, 1, "status: /status.php answers 200 OK; it must not be served"},
		{"no security headers", &fakeStack{status: []string{healthy}, noHeaders: true}, nil, 1, `headers: / lacks security headers: `},
		{"a dotfile served", &fakeStack{status: []string{healthy}, servesDotenv: true}, nil, 1, "refused paths: /.env answers 200 OK; it must not be served"},
		// Nothing ever arrives, so a short wait cannot make this pass or fail by luck.
		{"the hub drops updates", &fakeStack{status: []string{healthy}, hubDrops: true}, []string{"-mercure-wait", "100ms"}, 1, "mercure: the subscriber did not receive the update within 100ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := smoke(t, keys, append(append([]string{"-timeout", "10s"}, c.args...), serve(t, c.stack))...)
			if code != c.code || !strings.Contains(out+errOut, c.want) {
				t.Errorf("exit %d, output %q %q; want %d and %q", code, out, errOut, c.code, c.want)
			}
		})
	}
	// MySQL's access denied gets a hint: the volume keeps the password it was created with.
	if _, _, errOut := smoke(t, keys, serve(t, &fakeStack{status: []string{dbRefuses}})); !strings.Contains(errOut, "make destroy") {
		t.Errorf("no hint for access denied: %s", errOut)
	}
}

func TestSmokeNeedsTheMercureKeys(t *testing.T) {
	code, _, errOut := smoke(t, map[string]string{"MERCURE_PUBLISHER_JWT_KEY": "", "MERCURE_SUBSCRIBER_JWT_KEY": ""}, serve(t, &fakeStack{status: []string{healthy}}))
	if code != 1 || !strings.Contains(errOut, "MERCURE_PUBLISHER_JWT_KEY and MERCURE_SUBSCRIBER_JWT_KEY are not set") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	if code, _, _ := smoke(t, nil, "-mercure=false", serve(t, &fakeStack{status: []string{healthy}})); code != 0 {
		t.Errorf("-mercure=false: exit %d", code)
	}
	// A publisher key that the hub does not know is refused, and said so.
	code, _, errOut = smoke(t, map[string]string{"MERCURE_PUBLISHER_JWT_KEY": "wrong", "MERCURE_SUBSCRIBER_JWT_KEY": keys["MERCURE_SUBSCRIBER_JWT_KEY"]}, serve(t, &fakeStack{status: []string{healthy}}))
	if code != 1 || !strings.Contains(errOut, "publishing with the publisher JWT: 401") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// A stack that never gets ready: the check gives up, and says what the stack last answered,
// not that its own deadline passed. The proxy answers 502 once; the next request ends the
// check's time (as a deadline passing mid-request does on a busy machine) and is cut short.
func TestSmokeGivesUpWithTheLastAnswer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "Bad Gateway", http.StatusBadGateway)
			return
		}
		cancel()
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := &checker{base: srv.URL, client: srv.Client()}
	err := c.checkStatus(ctx)
	if err == nil || !strings.Contains(err.Error(), "no answer from the app in time") || !strings.Contains(err.Error(), "502") {
		t.Errorf("got %v; want the 502 the stack answered", err)
	}
	if calls.Load() != 2 {
		t.Errorf("%d requests, want 2", calls.Load())
	}
}

// With -outputs, smoke takes the URL and the hub's keys from a local stack's outputs (as
// pulumi stack output --json --show-secrets prints them), which make up pipes to it.
func TestSmokeReadsAStacksOutputs(t *testing.T) {
	base := serve(t, &fakeStack{status: []string{healthy}})
	outputs := filepath.Join(t.TempDir(), "outputs.json")
	doc := `{"url": "` + base + `", "mercurePublisherJwtKey": "publisher-key", "mercureSubscriberJwtKey": "subscriber-key", "databaseUrl": "mysql://x"}`
	if err := os.WriteFile(outputs, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := smoke(t, nil, "-outputs", outputs); code != 0 || !strings.Contains(out, "a private update reached its subscriber") || strings.Contains(out+errOut, "publisher-key") {
		t.Errorf("exit %d:\n%s%s", code, out, errOut)
	}
	for _, bad := range []string{`{"url": ""}`, `not json`} {
		if err := os.WriteFile(outputs, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := smoke(t, nil, "-outputs", outputs); code != 2 || !strings.Contains(errOut, "smoke: -outputs:") {
			t.Errorf("%s: exit %d, %s", bad, code, errOut)
		}
	}
	if code, _, errOut := smoke(t, nil, "-outputs", outputs, base); code != 2 || !strings.Contains(errOut, "usage:") {
		t.Errorf("-outputs with a URL: exit %d, %s", code, errOut)
	}
}

func TestSmokeUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"localhost:8080"}, {"http://a", "http://b"}, {"-status", "secret", "http://a"}, {"-min-tls", "1.1", "http://a"}} {
		if code, _, errOut := smoke(t, nil, args...); code != 2 || !strings.Contains(errOut, "usage:") {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
}

// Over HTTPS: plain HTTP must redirect, TLS below the minimum must be refused, HSTS sent.
// The test serves the HTTPS site and plain HTTP beside it, as a load balancer does on 443
// and 80, on loopback ports (-http-port).
func TestSmokeHTTPS(t *testing.T) {
	cases := []struct {
		name     string
		stack    *fakeStack
		tlsMin   uint16
		redirect bool
		args     []string
		code     int
		want     string
	}{
		{"TLS 1.2 and up, HTTP redirects", &fakeStack{status: []string{healthy}}, tls.VersionTLS12, true, nil, 0, "https: HTTP redirects to HTTPS"},
		{"HTTP served as it is", &fakeStack{status: []string{healthy}}, tls.VersionTLS12, false, nil, 1, "it must redirect to HTTPS"},
		{"TLS 1.2 accepted where 1.3 is promised", &fakeStack{status: []string{healthy}}, tls.VersionTLS12, true, []string{"-min-tls", "1.3"}, 1, "TLS 1.2 is accepted; the stack promises at least TLS 1.3"},
		{"TLS 1.3 only", &fakeStack{status: []string{healthy}}, tls.VersionTLS13, true, []string{"-min-tls", "1.3"}, 0, "keeps its promises"},
		{"TLS 1.3 only where 1.2 is promised", &fakeStack{status: []string{healthy}}, tls.VersionTLS13, true, nil, 1, "TLS 1.2 is refused"},
		{"no HSTS", &fakeStack{status: []string{healthy}, noHSTS: true}, tls.VersionTLS12, true, nil, 1, "Strict-Transport-Security: none over HTTPS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base, httpPort, ca := httpsPair(t, c.stack, c.tlsMin, c.redirect)
			code, out, errOut := smoke(t, keys, append(append([]string{"-ca", ca, "-http-port", httpPort}, c.args...), base)...)
			if code != c.code || !strings.Contains(out+errOut, c.want) {
				t.Errorf("exit %d, output %q %q; want %d and %q", code, out, errOut, c.code, c.want)
			}
		})
	}
}

// httpsPair serves stack over HTTPS, and plain HTTP beside it (redirecting or serving the
// stack), and returns the https:// URL, the HTTP port and the CA file that trusts the site.
func httpsPair(t *testing.T, stack http.Handler, min uint16, redirect bool) (string, string, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(stack)
	srv.TLS = &tls.Config{MinVersion: min}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if redirect {
			http.Redirect(w, r, srv.URL+r.URL.Path, http.StatusMovedPermanently)
			return
		}
		stack.ServeHTTP(w, r)
	}))
	t.Cleanup(plain.Close)
	_, httpPort, _ := net.SplitHostPort(plain.Listener.Addr().String())
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.URL, httpPort, ca
}
