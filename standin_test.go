package main

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The local stack's topology on loopback, from the files its images are built from: the
// proxy's Nginx as the one origin, in front of the app's Nginx and PHP-FPM (serving the
// stand-in app) and the Mercure hub, with real MySQL-protocol and Redis servers (MariaDB
// and Redis from Debian). cmd/smoke checks it as `make up` checks a local stack: it passes
// with the right credentials (status, headers, refused paths, a Mercure round trip through
// the proxy), and names MySQL or Redis when it refuses the app's, which is what `make up`
// reports after the data volume outlived the credentials it was created with.
func TestSmokeChecksTheLocalTopology(t *testing.T) {
	t.Parallel()
	php, db, redis := standInServers(t)
	// What the release step does before the app starts.
	if out, code := release(t, php, db); code != 0 {
		t.Fatalf("release: %s", out)
	}
	readFiles(t, "docker")
	public, err := filepath.Abs("app/public")
	if err != nil {
		t.Fatal(err)
	}
	// Without the hub's binary (SUDOKU_MERCURE_BIN), the round trip is left out here; CI
	// has it (SUDOKU_REQUIRE_TOOLS=1 makes startHub fail without it).
	hub, mercure := freeAddr(t), false
	if os.Getenv("SUDOKU_MERCURE_BIN") != "" || os.Getenv("SUDOKU_REQUIRE_TOOLS") == "1" {
		hub, _ = startHub(t)
		mercure = true
	}
	smoke := filepath.Join(builtTools(t), "smoke")
	cases := []struct {
		name, dbPassword, redisPassword string
		want                            string // "" passes
	}{
		{"the right credentials", "db-password", "redis-password", ""},
		{"mysql refuses", "an-older-password", "redis-password", "MySQL refuses the app's credentials (access-denied"},
		{"redis refuses", "db-password", "an-older-password", "Redis refuses the app's credentials (access-denied"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			app := startApp(t, public, []string{
				fmt.Sprintf("DATABASE_URL=mysql://sudoku_user:%s@%s/sudoku?serverVersion=8.4.0&charset=utf8mb4", c.dbPassword, db),
				fmt.Sprintf("REDIS_URL=redis://default:%s@%s", c.redisPassword, redis),
			})
			url := startProxy(t, app, hub)
			assertStatusBodyTellsNoMore(t, url)
			cmd := exec.Command(smoke, "-timeout", "20s", "-mercure="+fmt.Sprint(mercure), url)
			cmd.Env = append(os.Environ(), "MERCURE_PUBLISHER_JWT_KEY="+testPublisherKey, "MERCURE_SUBSCRIBER_JWT_KEY="+testSubscriberKey)
			out, err := cmd.CombinedOutput()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("the check failed: %v\n%s", err, out)
			case c.want == "" && mercure && !strings.Contains(string(out), "mercure: a private update reached its subscriber"):
				t.Errorf("the check passed without the Mercure round trip:\n%s", out)
			case c.want != "" && (err == nil || !strings.Contains(string(out), c.want)):
				t.Errorf("want a failure saying %q; got %v:\n%s", c.want, err, out)
			case c.name == "redis refuses" && strings.Contains(string(out), "MySQL"):
				t.Errorf("MySQL blamed for Redis:\n%s", out)
			}
			if strings.Contains(string(out), testPublisherKey) || strings.Contains(string(out), testSubscriberKey) {
				t.Errorf("smoke printed a Mercure key:\n%s", out)
			}
		})
	}
	if mercure {
		// With the wrong subscriber key, the round trip fails and says so.
		app := startApp(t, public, []string{
			"DATABASE_URL=mysql://sudoku_user:db-password@" + db + "/sudoku?serverVersion=8.4.0&charset=utf8mb4",
			"REDIS_URL=redis://default:redis-password@" + redis,
		})
		cmd := exec.Command(smoke, "-timeout", "20s", startProxy(t, app, hub))
		cmd.Env = append(os.Environ(), "MERCURE_PUBLISHER_JWT_KEY="+testPublisherKey, "MERCURE_SUBSCRIBER_JWT_KEY=not-the-hubs-subscriber-key-0123456789abcdef")
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "mercure: subscribing with the subscriber JWT: 401") {
			t.Errorf("want the Mercure check to fail with the wrong subscriber key; got %v:\n%s", err, out)
		}
	}
}

// On AWS the load balancer does not route /status.php, so the end-to-end test runs it as a
// one-off task in the VPC (scripts/e2e.sh aws-status): from the command line it checks MySQL
// and Redis and exits 0 only when both let the app in.
func TestStatusFromTheCommandLine(t *testing.T) {
	t.Parallel()
	php, db, redis := standInServers(t)
	if out, code := release(t, php, db); code != 0 {
		t.Fatalf("release: %s", out)
	}
	for _, c := range []struct {
		dbPassword string
		exit       int
		want       string
	}{
		{"db-password", 0, `"status": "ok"`},
		{"an-older-password", 1, `"reason": "access-denied"`},
	} {
		cmd := exec.Command(php, "app/public/status.php")
		cmd.Env = append(os.Environ(),
			"DATABASE_URL=mysql://sudoku_user:"+c.dbPassword+"@"+db+"/sudoku?serverVersion=8.4.0&charset=utf8mb4",
			"REDIS_URL=redis://default:redis-password@"+redis)
		out, code := runExit(t, cmd)
		if code != c.exit || !strings.Contains(out, c.want) {
			t.Errorf("with password %s: exit %d, %s; want exit %d and %s", c.dbPassword, code, out, c.exit, c.want)
		}
	}
}

// standInServers is PHP with the stand-in app's extensions, and a MariaDB and a Redis (its
// password redis-password) of the test's; it returns php's path and the servers' addresses.
func standInServers(t *testing.T) (php, db, redis string) {
	t.Helper()
	php = tool(t, "php")
	requirePhpExtensions(t, php, "pdo_mysql", "redis")
	readFiles(t, "app/public")
	return php, startMariaDB(t), startRedis(t, "redis-password")
}

// assertStatusBodyTellsNoMore fails when status.php's body says more than whether each
// dependency is up and a short reason: no versions, extension lists or exception text.
func assertStatusBodyTellsNoMore(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url + "/status.php?deps=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	for key, value := range body {
		switch key {
		case "status":
		case "database", "redis":
			for field := range value.(map[string]any) {
				if field != "ok" && field != "reason" {
					t.Errorf("status.php tells %s.%s", key, field)
				}
			}
		default:
			t.Errorf("status.php tells %q: %v", key, value)
		}
	}
	if text := fmt.Sprint(body); strings.Contains(text, "Exception") || strings.Contains(text, "SQLSTATE") || strings.Contains(text, "PHP") {
		t.Errorf("status.php's body has exception or version text: %s", text)
	}
}

// readFiles reads every file under dir, so that go test's cache knows the test depends on
// them (it tracks the files a test opens, not those the servers it starts read).
func readFiles(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		_, err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func requirePhpExtensions(t *testing.T, php string, names ...string) {
	t.Helper()
	out, err := exec.Command(php, "-m").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if !strings.Contains("\n"+string(out), "\n"+n+"\n") {
			if os.Getenv("SUDOKU_REQUIRE_TOOLS") == "1" {
				t.Fatalf("PHP lacks the %s extension (.ci/run installs php-mysql and php-redis)", n)
			}
			t.Skipf("PHP lacks the %s extension; skipping", n)
		}
	}
}

// The health checks' /status.php answers without a connection to MySQL: a check every few
// seconds from each task and the load balancer would keep an idle Aurora Serverless v2
// cluster from ever pausing.
func TestHealthCheckLeavesTheDatabaseAlone(t *testing.T) {
	t.Parallel()
	php, db, redis := standInServers(t)
	url := serveStandIn(t, php, []string{
		"DATABASE_URL=mysql://sudoku_user:db-password@" + db + "/sudoku?serverVersion=8.4.0&charset=utf8mb4",
		"REDIS_URL=redis://default:redis-password@" + redis,
	})
	connections := func() int {
		out, err := exec.Command(tool(t, "mariadb"), "--no-defaults", "-h", "127.0.0.1", "-P", portOf(db), "-usudoku_user", "-pdb-password",
			"-N", "-e", "SHOW GLOBAL STATUS LIKE 'Connections'").Output()
		if err != nil {
			t.Fatal(err)
		}
		return atoi(strings.Fields(string(out))[1])
	}
	get := func(path string) string {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
		return string(body)
	}
	before := connections()
	for range 5 {
		if body := get("/status.php"); strings.TrimSpace(body) != `{"status":"alive"}` {
			t.Errorf("the health check's answer: %s", body)
		}
	}
	if n := connections() - before; n != 1 { // the count includes the query that reads it
		t.Errorf("5 health checks opened %d connections to MySQL", n-1)
	}
	if body := get("/status.php?deps=1"); !strings.Contains(body, `"database"`) || connections()-before < 3 {
		t.Errorf("?deps=1 did not check MySQL: %s", body)
	}
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// startMariaDB runs a throwaway MariaDB on loopback with the app's database, a user with
// every right on it as the local stack has (sudoku_user, password "db-password"), and an
// administrator as Aurora's master user is (sudoku_admin, "admin-password"), and returns its
// host:port.
func startMariaDB(t *testing.T) string {
	t.Helper()
	return startMariaDBAt(t, freeAddr(t))
}

// startMariaDBAt is startMariaDB on addr, a loopback host:port: a server of its own, on a
// copy of mariaDBData's directory.
func startMariaDBAt(t *testing.T, addr string) string {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if out, err := exec.Command("cp", "-a", mariaDBData(t), data).CombinedOutput(); err != nil {
		t.Fatalf("copying the MariaDB data directory: %v\n%s", err, out)
	}
	_, port, _ := net.SplitHostPort(addr)
	socket := filepath.Join(dir, "mysqld.sock")
	startServer(t, mariaDBServer(t, data, socket, "--port="+port, "--bind-address=127.0.0.1"))
	if err := waitForMariaDB(t, socket); err != nil {
		log, _ := os.ReadFile(filepath.Join(data, "error.log"))
		t.Fatalf("%v:\n%s", err, log)
	}
	return addr
}

var mariaDBTemplate struct {
	once sync.Once
	dir  string
	err  error
}

// mariaDBSetup is what the template's server runs once, as root, before it shuts down.
const mariaDBSetup = `DELETE FROM mysql.global_priv WHERE User = ''; FLUSH PRIVILEGES;
	CREATE DATABASE sudoku; CREATE USER 'sudoku_user'@'%' IDENTIFIED BY 'db-password';
	GRANT ALL ON sudoku.* TO 'sudoku_user'@'%';
	CREATE USER 'sudoku_admin'@'%' IDENTIFIED BY 'admin-password';
	GRANT ALL ON *.* TO 'sudoku_admin'@'%' WITH GRANT OPTION;
	SHUTDOWN;`

// mariaDBData is a MariaDB data directory with the app's database and users, which each
// server copies. It is made once (mariadb-install-db, the users, a clean shutdown: a second
// or two) and kept in the user's cache for later runs, under a hash of the server's version
// and of how it is made.
func mariaDBData(t *testing.T) string {
	t.Helper()
	install := tool(t, "mariadb-install-db")
	tool(t, "mariadb")
	m := &mariaDBTemplate
	m.once.Do(func() {
		version, err := exec.Command(tool(t, "mariadbd"), "--version").Output()
		if err != nil {
			m.err = fmt.Errorf("mariadbd --version: %w", err)
			return
		}
		me, err := user.Current()
		if err != nil {
			m.err = err
			return
		}
		installArgs := []string{"--no-defaults", "--user=" + me.Username, "--auth-root-authentication-method=normal", "--skip-test-db", "--innodb-log-file-size=4M"}
		h := sha256.Sum256([]byte(string(version) + strings.Join(installArgs, " ") + strings.Join(mariaDBServer(t, "", "").Args, " ") + mariaDBSetup))
		m.dir, m.err = userCached("mariadb", h[:], func(dir string) error {
			data := filepath.Join(dir, "installed")
			if out, err := exec.Command(install, append(installArgs, "--datadir="+data)...).CombinedOutput(); err != nil {
				return fmt.Errorf("mariadb-install-db: %w\n%s", err, out)
			}
			// A short path: a Unix socket's is limited to about 100 bytes.
			sockets, err := os.MkdirTemp("", "mariadb-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(sockets)
			socket := filepath.Join(sockets, "mysqld.sock")
			server := mariaDBServer(t, data, socket, "--skip-networking")
			if err := server.Start(); err != nil {
				return err
			}
			defer func() { _ = server.Process.Kill(); _ = server.Wait() }()
			if err := waitForMariaDB(t, socket); err != nil {
				return err
			}
			if out, err := mariaDBClient(t, socket, mariaDBSetup).CombinedOutput(); err != nil {
				return fmt.Errorf("creating the app's database and users: %w\n%s", err, out)
			}
			// SHUTDOWN returns before the server has written everything out: wait for it to exit.
			if err := server.Wait(); err != nil {
				return fmt.Errorf("MariaDB's shutdown: %w", err)
			}
			// The logs and pid file are the template server's; the rest goes to the copies.
			for _, f := range []string{"error.log", "mysqld.pid"} {
				os.Remove(filepath.Join(data, f))
			}
			// Sparse, as the copies then are: the files are mostly InnoDB pages never written.
			if out, err := exec.Command("cp", "-a", "--sparse=always", data, filepath.Join(dir, "data")).CombinedOutput(); err != nil {
				return fmt.Errorf("%w\n%s", err, out)
			}
			return os.RemoveAll(data)
		})
	})
	if m.err != nil {
		t.Fatal(m.err)
	}
	return filepath.Join(m.dir, "data")
}

// mariaDBServer is mariadbd on data, answering on socket and as args say.
func mariaDBServer(t *testing.T, data, socket string, args ...string) *exec.Cmd {
	t.Helper()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return exec.Command(tool(t, "mariadbd"), append([]string{"--no-defaults", "--datadir=" + data, "--socket=" + socket,
		"--user=" + me.Username, "--skip-log-bin", "--skip-name-resolve", "--innodb-buffer-pool-size=16M",
		"--innodb-log-file-size=4M", "--pid-file=" + filepath.Join(data, "mysqld.pid"), "--log-error=" + filepath.Join(data, "error.log")}, args...)...)
}

// mariaDBClient runs sql as MariaDB's root on socket.
func mariaDBClient(t *testing.T, socket, sql string) *exec.Cmd {
	t.Helper()
	return exec.Command(tool(t, "mariadb"), "--no-defaults", "--socket="+socket, "-uroot", "-e", sql)
}

// waitForMariaDB waits until the server on socket answers, for up to 30 s.
func waitForMariaDB(t *testing.T, socket string) error {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for mariaDBClient(t, socket, "SELECT 1").Run() != nil {
		if time.Now().After(deadline) {
			return errors.New("MariaDB did not start within 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// startRedis runs a throwaway Redis on loopback with password, and returns its host:port.
func startRedis(t *testing.T, password string) string {
	t.Helper()
	server := tool(t, "redis-server")
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	startServer(t, exec.Command(server, "--port", port, "--bind", "127.0.0.1", "--requirepass", password,
		"--save", "", "--appendonly", "no", "--dir", t.TempDir()))
	waitForPort(t, addr)
	return addr
}

// serveStandIn serves app/public with PHP's built-in server and env, and returns its URL.
func serveStandIn(t *testing.T, php string, env []string) string {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(php, "-S", addr, "-t", "app/public")
	cmd.Env = append(os.Environ(), env...)
	startServer(t, cmd)
	waitForPort(t, addr)
	return "http://" + addr
}

// startServer starts cmd and stops it when the test ends.
func startServer(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}

func waitForPort(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after 20 s", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The Redis container's health check, as the program defines it, run against a real Redis:
// it passes with the password from the uploaded auth file, and fails with another.
func TestRedisHealthCheckAgainstRealRedis(t *testing.T) {
	t.Parallel()
	tool(t, "redis-cli")
	addr := startRedis(t, "the-password")
	_, port, _ := net.SplitHostPort(addr)
	check := mustRun(t, "local", nil).Named("docker:index/container:Container", "cache-container").Inputs["healthcheck"].ObjectValue()["tests"].ArrayValue()
	if len(check) != 2 || check[0].StringValue() != "CMD-SHELL" {
		t.Fatalf("health check %v", check)
	}
	for password, healthy := range map[string]bool{"the-password": true, "another": false} {
		auth := writeTemp(t, "auth.conf", "requirepass "+password+"\n")
		command := strings.NewReplacer("/usr/local/etc/redis/auth.conf", auth, "redis-cli ", "redis-cli -p "+port+" ").Replace(check[1].StringValue())
		err := exec.Command("sh", "-c", command).Run()
		if (err == nil) != healthy {
			t.Errorf("password %q: healthy %v, want %v (%s)", password, err == nil, healthy, command)
		}
	}
}
