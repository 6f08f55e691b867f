package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Static checks of the files the images are built from, with the real tools where this
// machine has them: php -l, nginx -t and php-fpm -t. Without the tools the checks skip,
// except where SUDOKU_REQUIRE_TOOLS=1 (CI sets it), so CI cannot pass by skipping them.
func tool(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		// Debian and Ubuntu name it after the PHP version: php-fpm8.2, php-fpm8.3, ...
		for _, dir := range filepath.SplitList(os.Getenv("PATH") + ":/usr/sbin") {
			if matches, _ := filepath.Glob(filepath.Join(dir, n+"[0-9]*")); len(matches) > 0 {
				return matches[0]
			}
		}
	}
	if os.Getenv("SUDOKU_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s is not installed, and SUDOKU_REQUIRE_TOOLS=1 requires it (.ci/run installs it)", names[0])
	}
	t.Skipf("%s is not installed; skipping (set SUDOKU_REQUIRE_TOOLS=1 to fail instead)", names[0])
	return ""
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

func TestPhpFilesParse(t *testing.T) {
	t.Parallel()
	php := tool(t, "php")
	var files []string
	err := filepath.WalkDir("app", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "vendor" || d.Name() == "var") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".php") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no PHP files under app/")
	}
	for _, f := range files {
		runTool(t, php, "-l", f)
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// appImageFile is the file the app's Dockerfile copies to path (a COPY from its build
// context, docker/php): what the image has there, read from the same file.
func appImageFile(t *testing.T, path string) string {
	t.Helper()
	copies := contextCopies(t, "docker/php/Dockerfile")
	src, ok := copies[path]
	if !ok {
		t.Fatalf("docker/php/Dockerfile copies nothing from its context to %s (it copies to %v)", path, keys(copies))
	}
	data, err := os.ReadFile(filepath.Join("docker/php", src))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// appNginxConfig is the app image's nginx.conf, with what the image keeps in /tmp and its
// fastcgi snippet in a directory of the test's, listening on listen, serving root and
// handing PHP to fpm.
func appNginxConfig(t *testing.T, listen, root, fpm string) string {
	t.Helper()
	dir := t.TempDir()
	snippet := strings.ReplaceAll(appImageFile(t, "/etc/nginx/sudoku-fastcgi.conf"), "127.0.0.1:9000", fpm)
	conf := strings.NewReplacer(
		"/tmp/", dir+"/",
		"/etc/nginx/sudoku-fastcgi.conf", writeTemp(t, "sudoku-fastcgi.conf", snippet),
		"root /var/www/html/public;", "root "+root+";",
		"listen 8080 default_server;", "listen "+listen+" default_server;",
	).Replace(appImageFile(t, "/etc/nginx/nginx.conf"))
	if os.Geteuid() == 0 {
		// As root, nginx's workers would run as nobody, who cannot enter the test's
		// directories; the image runs everything as one unprivileged user.
		conf = "user root;\n" + conf
	}
	return writeTemp(t, "nginx.conf", conf)
}

func TestAppImageNginxConfig(t *testing.T) {
	t.Parallel()
	nginx := tool(t, "nginx")
	runTool(t, nginx, "-t", "-q", "-e", "/dev/stderr", "-c", appNginxConfig(t, "8080", "/var/www/html/public", "127.0.0.1:9000"))
}

// The app image's Nginx and PHP-FPM configurations, run with the real servers on the
// stand-in app: only the front controllers execute, dotfiles are refused, and every answer
// carries the security headers (HSTS only behind HTTPS).
func TestAppImageServesOnlyTheFrontControllers(t *testing.T) {
	t.Parallel()
	public := filepath.Join(copyDir(t, "app"), "public")
	for name, content := range map[string]string{"debug.php": "<?php echo 'executed';", ".env": "APP_SECRET=leaked"} {
		if err := os.WriteFile(filepath.Join(public, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr := startApp(t, public, nil)

	type answer struct {
		StatusCode int
		Header     http.Header
	}
	get := func(path string, header ...string) (answer, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return answer{resp.StatusCode, resp.Header}, string(body)
	}
	for _, c := range []struct {
		path   string
		status int
		want   string // in the body
	}{
		{"/", 200, "stand-in app"},
		{"/some/route?x=1", 200, "stand-in app"},
		{"/status.php", 200, `"status"`},
		{"/index.php", 404, ""},
		{"/debug.php", 404, ""},
		{"/.env", 403, ""},
	} {
		resp, body := get(c.path)
		if resp.StatusCode != c.status || !strings.Contains(body, c.want) {
			t.Errorf("GET %s: %d, want %d with %q", c.path, resp.StatusCode, c.status, c.want)
		}
		if strings.Contains(body, "executed") || strings.Contains(body, "leaked") {
			t.Errorf("GET %s ran or served what it must not: %.100s", c.path, body)
		}
		for header, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "strict-origin-when-cross-origin", "X-Frame-Options": "SAMEORIGIN"} {
			if got := resp.Header.Get(header); got != want {
				t.Errorf("GET %s: %s = %q, want %q", c.path, header, got, want)
			}
		}
		if hsts := resp.Header.Get("Strict-Transport-Security"); hsts != "" {
			t.Errorf("GET %s over HTTP sent HSTS: %q", c.path, hsts)
		}
	}
	if resp, _ := get("/", "X-Forwarded-Proto", "https"); !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=31536000") {
		t.Errorf("behind HTTPS, no HSTS: %q", resp.Header.Get("Strict-Transport-Security"))
	}
}

// startApp runs what the app container runs, on loopback: PHP-FPM with the image's pool
// (keeping the environment, env added to this process's) and Nginx with the image's config,
// serving public. It returns Nginx's address.
func startApp(t *testing.T, public string, env []string) string {
	t.Helper()
	nginx, fpm := tool(t, "nginx"), tool(t, "php-fpm")
	fpmAddr := freeAddr(t)
	pool := strings.ReplaceAll(appImageFile(t, "/usr/local/etc/php-fpm.d/zz-app.conf"), "127.0.0.1:9000", fpmAddr)
	main := fmt.Sprintf("[global]\nerror_log = /dev/stderr\npid = %s\ninclude = %s\n", filepath.Join(t.TempDir(), "fpm.pid"), writeTemp(t, "pool.conf", pool))
	// -R: CI runs as root; the image runs FPM as the unprivileged app user.
	cmd := exec.Command(fpm, "-F", "-R", "-y", writeTemp(t, "php-fpm.conf", main))
	cmd.Env = append(os.Environ(), env...)
	startServer(t, cmd)
	waitForPort(t, fpmAddr)
	addr := freeAddr(t)
	startServer(t, exec.Command(nginx, "-e", "/dev/stderr", "-c", appNginxConfig(t, addr, public, fpmAddr), "-g", "daemon off;"))
	waitForPort(t, addr)
	return addr
}

func TestAppImagePhpFpmPool(t *testing.T) {
	t.Parallel()
	pool := appImageFile(t, "/usr/local/etc/php-fpm.d/zz-app.conf")
	fpm := tool(t, "php-fpm")
	poolFile := writeTemp(t, "pool.conf", pool)
	main := fmt.Sprintf("[global]\nerror_log = /dev/stderr\ninclude = %s\n", poolFile)
	// -R: CI runs as root; the image runs FPM as the unprivileged app user.
	runTool(t, fpm, "-t", "-R", "-y", writeTemp(t, "php-fpm.conf", main))
}

func TestProxyNginxConfig(t *testing.T) {
	t.Parallel()
	runTool(t, tool(t, "nginx"), "-t", "-q", "-e", "/dev/stderr", "-c", proxyNginxConfig(t, "8080", "sudoku-local-app:8080", "sudoku-local-mercure:3000"))
}

// proxyNginxConfig is the proxy image's nginx configuration, rendered as its entrypoint
// renders it, with the upstreams the LoadBalancer component sets, listening on listen.
func proxyNginxConfig(t *testing.T, listen, app, hub string) string {
	t.Helper()
	tmpl, err := os.ReadFile("docker/proxy/default.conf.template")
	if err != nil {
		t.Fatal(err)
	}
	server := strings.NewReplacer("${APP_UPSTREAM}", app, "${MERCURE_UPSTREAM}", hub, "listen 8080;", "listen "+listen+";").Replace(string(tmpl))
	if strings.Contains(server, "${") {
		t.Errorf("the template uses a variable the LoadBalancer component does not set")
	}
	dir := t.TempDir()
	conf := fmt.Sprintf("pid %[1]s/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path %[1]s/body;\n  proxy_temp_path %[1]s/proxy;\n  include %[2]s;\n}\n",
		dir, writeTemp(t, "default.conf", server))
	if os.Geteuid() == 0 {
		conf = "user root;\n" + conf
	}
	return writeTemp(t, "nginx.conf", conf)
}

// startProxy runs the proxy image's Nginx, listening on a loopback port instead of 8080,
// in front of app and hub (host:port each), and returns its URL: the local stack's one
// origin.
func startProxy(t *testing.T, app, hub string) string {
	t.Helper()
	addr := freeAddr(t)
	startServer(t, exec.Command(tool(t, "nginx"), "-e", "/dev/stderr", "-c", proxyNginxConfig(t, addr, app, hub), "-g", "daemon off;"))
	waitForPort(t, addr)
	return "http://" + addr
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// mercureCaddy is the Mercure hub's Caddy, built from tools/mercure (the release the image
// runs) by .ci/run, which passes it as SUDOKU_MERCURE_BIN.
func mercureCaddy(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SUDOKU_MERCURE_BIN"); p != "" {
		return p
	}
	if os.Getenv("SUDOKU_REQUIRE_TOOLS") == "1" {
		t.Fatal("SUDOKU_MERCURE_BIN is not set, and SUDOKU_REQUIRE_TOOLS=1 requires it (.ci/run builds it: go build -C tools/mercure -o BIN github.com/dunglas/mercure/caddy/mercure)")
	}
	t.Skip("SUDOKU_MERCURE_BIN is not set; skipping (.ci/run builds it from tools/mercure)")
	return ""
}

// hubEnv is the environment the MercureHub component gives the hub.
func hubEnv(addr string) []string {
	return []string{
		"SERVER_NAME=" + addr,
		"MERCURE_PUBLISHER_JWT_KEY=" + testPublisherKey,
		"MERCURE_SUBSCRIBER_JWT_KEY=" + testSubscriberKey,
		"MERCURE_CORS_ORIGINS=http://localhost:8080",
	}
}

const (
	testPublisherKey  = "publisher-key-of-at-least-256-bits-0123456789abcdef"
	testSubscriberKey = "subscriber-key-of-at-least-256-bits-0123456789abcde"
)

// The Caddyfile adapts, without a warning, under the Mercure release the image runs.
func TestMercureCaddyfileValidates(t *testing.T) {
	t.Parallel()
	caddy := mercureCaddy(t)
	readFiles(t, "docker/mercure")
	cmd := exec.Command(caddy, "adapt", "--config", "docker/mercure/Caddyfile", "--validate")
	cmd.Env = append(hubEnv(":3000"), "HOME="+t.TempDir(), "XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("caddy adapt --validate: %v\n%s", err, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, `"level":"warn"`) || strings.Contains(line, `"level":"error"`) {
			t.Errorf("caddy adapt: %s", line)
		}
	}
}

// The hub, run from the Caddyfile as the container runs it: it answers /healthz, refuses a
// publish without a JWT, and delivers an update published with a publisher JWT signed with
// MERCURE_PUBLISHER_JWT_KEY to an anonymous subscriber.
func TestMercureHubRunsFromTheCaddyfile(t *testing.T) {
	t.Parallel()
	addr, logs := startHub(t)
	base := "http://" + addr

	hub := base + "/.well-known/mercure"
	got := subscribe(t, hub+"?topic="+url.QueryEscape("urn:sudoku:test"), "data: hello")
	publish := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, hub, strings.NewReader(url.Values{"topic": {"urn:sudoku:test"}, "data": {"hello"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := publish(""); code != http.StatusUnauthorized {
		t.Errorf("publish without a JWT: %d, want 401", code)
	}
	if code := publish(hs256(t, testSubscriberKey, `{"mercure":{"publish":["*"]}}`)); code != http.StatusUnauthorized {
		t.Errorf("publish with a JWT signed with the subscriber key: %d, want 401", code)
	}
	if code := publish(hs256(t, testPublisherKey, `{"mercure":{"publish":["*"]}}`)); code != http.StatusOK {
		t.Fatalf("publish with a publisher JWT: %d\n%s", code, logs.String())
	}
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Errorf("the subscriber did not receive the update within 5 s\n%s", logs.String())
	}
}

// startHub runs the Mercure hub from the Caddyfile, through the image's entrypoint with the
// keys in files as the local stack gives them, and returns its address once it answers
// /healthz, and its log.
func startHub(t *testing.T) (string, fmt.Stringer) {
	t.Helper()
	caddy := mercureCaddy(t)
	dir := t.TempDir()
	conf, err := os.ReadFile("docker/mercure/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	// The image keeps the Bolt database on its /data volume; the test keeps it here.
	caddyfile := writeTemp(t, "Caddyfile", strings.ReplaceAll(string(conf), "/data/mercure.db", filepath.Join(dir, "mercure.db")))
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	// Through the image's entrypoint, with the keys in files, as the local stack gives them.
	cmd := exec.Command("sh", "docker/mercure/entrypoint.sh", caddy, "run", "--config", caddyfile, "--adapter", "caddyfile")
	var env []string
	for _, e := range hubEnv(":" + port) { // as the component sets it: a port alone, so plain HTTP
		if name, value, _ := strings.Cut(e, "="); strings.HasSuffix(name, "_JWT_KEY") {
			e = name + "_FILE=" + writeTemp(t, name, value)
		}
		env = append(env, e)
	}
	env = append(env, "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir, "PATH="+os.Getenv("PATH"))
	cmd.Env = env
	logs := &logBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	startServer(t, cmd)
	waitFor(t, "http://"+addr+"/healthz", logs)
	return addr, logs
}

// logBuffer is a server's output, safe to read while the server writes it.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// subscribe opens a subscription at url and reports when it receives the line want.
func subscribe(t *testing.T, url, want string) <-chan bool {
	t.Helper()
	resp, err := http.Get(url) //nolint:bodyclose // the reading goroutine closes it
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan bool, 1)
	go func() {
		defer resp.Body.Close()
		s := bufio.NewScanner(resp.Body)
		for s.Scan() {
			if s.Text() == want {
				got <- true
				return
			}
		}
	}()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscription: %s", resp.Status)
	}
	return got
}

// hs256 is a JWT with claims, signed with key.
func hs256(t *testing.T, key, claims string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

// freeAddr is a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitFor polls url until it answers 200, for up to 20 s.
func waitFor(t *testing.T, url string, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within 20 s (%v)\n%s", url, err, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The app image's entrypoint turns the local stack's secret files (NAME_FILE) into the
// variables the app reads, and refuses a secret given both ways.
func TestAppEntrypointReadsSecretFiles(t *testing.T) {
	t.Parallel()
	bash := tool(t, "bash")
	entrypoint := writeTemp(t, "app-entrypoint", appImageFile(t, "/usr/local/bin/app-entrypoint"))
	run := func(env ...string) (string, error) {
		cmd := exec.Command(bash, entrypoint, "env")
		env = append(env, "PATH="+os.Getenv("PATH"))
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("DATABASE_URL_FILE="+writeTemp(t, "database-url", "mysql://u:p@db:3306/sudoku"), "APP_SECRET_FILE="+writeTemp(t, "app-secret", "s3cret"))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"DATABASE_URL=mysql://u:p@db:3306/sudoku\n", "APP_SECRET=s3cret\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the app's environment lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "_FILE=") {
		t.Errorf("the *_FILE variables are left over:\n%s", out)
	}
	if out, err := run("APP_SECRET=a", "APP_SECRET_FILE="+writeTemp(t, "s", "b")); err == nil || !strings.Contains(out, "both APP_SECRET and APP_SECRET_FILE are set") {
		t.Errorf("a secret given twice: %v\n%s", err, out)
	}
	if out, err := run("APP_SECRET_FILE=/no/such/file"); err == nil || !strings.Contains(out, "cannot be read") {
		t.Errorf("a missing secret file: %v\n%s", err, out)
	}
}

// Locally (RELEASE_ON_START=1) the entrypoint runs the release step before it starts the
// servers, and exits with the step's status when it fails, without starting them.
func TestAppEntrypointReleasesFirst(t *testing.T) {
	t.Parallel()
	bash := tool(t, "bash")
	entrypoint := writeTemp(t, "app-entrypoint", appImageFile(t, "/usr/local/bin/app-entrypoint"))
	for _, c := range []struct {
		release string // the stand-in app-release's body
		code    int    // the entrypoint's exit status when the release fails; -1: the servers ran
		log     string // what ran, in order (the two servers in either)
	}{
		{"echo release >>$LOG; exit 4", 4, "release"},
		{"echo release >>$LOG", -1, "release nginx php-fpm"},
	} {
		dir := t.TempDir()
		fakes := withFakes(t, map[string]string{
			"app-release": c.release,
			"php-fpm":     "echo php-fpm >>$LOG; sleep 1",
			"nginx":       "echo nginx >>$LOG; sleep 1",
		})
		cmd := exec.Command(bash, entrypoint)
		cmd.Env = []string{fakes[0] + ":" + os.Getenv("PATH"), "RELEASE_ON_START=1", "LOG=" + filepath.Join(dir, "log")}
		out, code := runExit(t, cmd)
		data, _ := os.ReadFile(filepath.Join(dir, "log"))
		ran := strings.Fields(string(data))
		if len(ran) > 1 {
			slices.Sort(ran[1:])
		}
		if c.code >= 0 && code != c.code || strings.Join(ran, " ") != c.log {
			t.Errorf("app-release %q: exit %d, ran %q (want %q)\n%s", c.release, code, ran, c.log, out)
		}
	}
}
