package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The stand-in app's release command (app/bin/release) against a real MySQL-protocol server
// (MariaDB from Debian), as the release step runs it.

// release runs app/bin/release against db as the local stack's user, with env added, and
// returns its output and exit status.
func release(t *testing.T, php, db string, env ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(php, "app/bin/release")
	cmd.Env = append(append(os.Environ(), "DATABASE_URL=mysql://sudoku_user:db-password@"+db+"/sudoku"), env...)
	return runExit(t, cmd)
}

// runExit runs cmd and returns its combined output and exit status.
func runExit(t *testing.T, cmd *exec.Cmd) (string, int) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	code := exitCode(err)
	if code == -1 {
		t.Fatal(err)
	}
	return string(out), code
}

// exitCode is the script's exit status (0 when it succeeded, -1 when it did not run).
func exitCode(err error) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	return -1
}

// sqlAs runs SQL on db's sudoku database as user and returns its tab-separated rows.
func sqlAs(t *testing.T, db, user, pass, sql string) (string, error) {
	t.Helper()
	out, err := exec.Command(tool(t, "mariadb"), "--no-defaults", "-h", "127.0.0.1", "-P", portOf(db), "-u"+user, "-p"+pass,
		"-N", "-B", "sudoku", "-e", sql).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func mustQuery(t *testing.T, db, sql string) string {
	t.Helper()
	out, err := sqlAs(t, db, "sudoku_user", "db-password", sql)
	if err != nil {
		t.Fatalf("%s: %v\n%s", sql, err, out)
	}
	return out
}

// migrationsDir writes migrations (name → SQL) to a directory of the test's.
func migrationsDir(t *testing.T, migrations map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, sql := range migrations {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The app's migrations apply once; a second release changes nothing; status.php reports
// the database down until they are applied.
func TestReleaseIsIdempotent(t *testing.T) {
	t.Parallel()
	php, db, redis := standInServers(t)
	readFiles(t, "app/migrations")
	status := func() string {
		cmd := exec.Command(php, "app/public/status.php")
		cmd.Env = append(os.Environ(), "DATABASE_URL=mysql://sudoku_user:db-password@"+db+"/sudoku", "REDIS_URL=redis://default:redis-password@"+redis)
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	if s := status(); !strings.Contains(s, `"reason": "not-migrated"`) {
		t.Errorf("before the release, status.php says: %s", s)
	}
	out, code := release(t, php, db)
	if code != 0 || !strings.Contains(out, "release: applied 0001_create_puzzle") || !strings.Contains(out, "release: applied 0002_add_puzzle_difficulty_index") {
		t.Fatalf("first release: exit %d\n%s", code, out)
	}
	schema := func() string {
		return mustQuery(t, db, "SELECT version FROM migration_versions ORDER BY version") + "\n" +
			mustQuery(t, db, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'sudoku' AND TABLE_NAME = 'puzzle' ORDER BY ORDINAL_POSITION") + "\n" +
			mustQuery(t, db, "SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'sudoku' AND TABLE_NAME = 'puzzle' ORDER BY INDEX_NAME")
	}
	before := schema()
	if want := "0001_create_puzzle\n0002_add_puzzle_difficulty_index\nid\ngrid\ndifficulty\ncreated_at\nPRIMARY\npuzzle_difficulty"; before != want {
		t.Errorf("after the release:\n%s\nwant\n%s", before, want)
	}
	out, code = release(t, php, db)
	if code != 0 || !strings.Contains(out, "release: nothing to apply; 2 migrations applied in all") {
		t.Errorf("second release: exit %d\n%s", code, out)
	}
	if after := schema(); after != before {
		t.Errorf("a second release changed the schema:\n%s", after)
	}
	if s := status(); !strings.Contains(s, `"status": "ok"`) {
		t.Errorf("after the release, status.php says: %s", s)
	}
}

// Two releases at once (two tasks starting together) apply each migration once: the second
// waits for the first's lock, then finds nothing to do.
func TestConcurrentReleasesApplyEachMigrationOnce(t *testing.T) {
	t.Parallel()
	php, db, _ := standInServers(t)
	dir := migrationsDir(t, map[string]string{
		"0001_counter.sql": "CREATE TABLE counter (n INT NOT NULL);\n",
		// Slow, and not idempotent: run twice, it would insert two rows.
		"0002_slow_insert.sql": "DO SLEEP(1);\nINSERT INTO counter VALUES (1);\n",
	})
	var wg sync.WaitGroup
	outs, codes := make([]string, 2), make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], codes[i] = release(t, php, db, "MIGRATIONS_DIR="+dir)
		}()
	}
	wg.Wait()
	if codes[0] != 0 || codes[1] != 0 {
		t.Fatalf("exit %v:\n%s\n%s", codes, outs[0], outs[1])
	}
	if n := mustQuery(t, db, "SELECT COUNT(*) FROM counter"); n != "1" {
		t.Errorf("the slow migration ran %s times:\n%s\n%s", n, outs[0], outs[1])
	}
	if n := mustQuery(t, db, "SELECT COUNT(*) FROM migration_versions"); n != "2" {
		t.Errorf("%s versions recorded", n)
	}
	if applied := strings.Count(outs[0]+outs[1], "release: applied "); applied != 2 {
		t.Errorf("%d migrations applied in all, want 2:\n%s\n%s", applied, outs[0], outs[1])
	}
}

// A failing migration exits non-zero, says which and where, and is not recorded; the ones
// before it are, and once fixed it is the only one the next release applies.
func TestFailingMigrationIsNotRecorded(t *testing.T) {
	t.Parallel()
	php, db, _ := standInServers(t)
	migrations := map[string]string{
		"0001_ok.sql":     "CREATE TABLE ok (n INT);\n",
		"0002_broken.sql": "CREATE TABLE broken (n INT);\nALTER TABLE no_such_table ADD COLUMN x INT;\n",
		"0003_later.sql":  "CREATE TABLE later (n INT);\n",
	}
	dir := migrationsDir(t, migrations)
	out, code := release(t, php, db, "MIGRATIONS_DIR="+dir)
	if code != 1 || !strings.Contains(out, "release: migration 0002_broken failed at statement 2:") || strings.Contains(out, "db-password") {
		t.Errorf("exit %d; want 1, naming the migration and statement (and no password):\n%s", code, out)
	}
	if v := mustQuery(t, db, "SELECT version FROM migration_versions"); v != "0001_ok" {
		t.Errorf("recorded: %q; want only 0001_ok", v)
	}
	if tables := mustQuery(t, db, "SHOW TABLES LIKE 'later'"); tables != "" {
		t.Error("a migration after the failed one ran")
	}
	// Fixed so that it may run again (its first statement did, and DDL is not rolled back).
	if err := os.WriteFile(filepath.Join(dir, "0002_broken.sql"), []byte("CREATE TABLE IF NOT EXISTS broken (n INT);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = release(t, php, db, "MIGRATIONS_DIR="+dir)
	if code != 0 || strings.Contains(out, "0001_ok") || !strings.Contains(out, "applied 0002_broken") || !strings.Contains(out, "applied 0003_later") {
		t.Errorf("after the fix: exit %d\n%s", code, out)
	}
}

// releaseStep is the app image's app-release, with the image's release.php beside it, run
// with env (the release container's environment on AWS) from the repository's root, so that
// the stand-in app's release command finds app/bin/release.
func releaseStep(t *testing.T, env ...string) (string, int) {
	t.Helper()
	script := strings.ReplaceAll(appImageFile(t, "/usr/local/bin/app-release"), "/usr/local/lib/sudoku/release.php", writeTemp(t, "release.php", appImageFile(t, "/usr/local/lib/sudoku/release.php")))
	cmd := exec.Command(tool(t, "bash"), writeTemp(t, "app-release", script))
	cmd.Env = append(os.Environ(), env...)
	return runExit(t, cmd)
}

// grants are a user's rights, as SHOW GRANTS lists them, without the password line.
func grants(t *testing.T, db, user string) string {
	t.Helper()
	out, err := sqlAs(t, db, "sudoku_admin", "admin-password", "SHOW GRANTS FOR '"+user+"'@'%'")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "GRANT USAGE ON *.*") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// On AWS the release step first makes the app's two users, as the administrator, with
// exactly their rights; then it runs the release command as the migrator, without the
// administrator's password. Run again, it changes nothing; a new password is set; rights
// someone added are taken back.
func TestReleaseStepCreatesTheDatabaseUsers(t *testing.T) {
	t.Parallel()
	php, db, redis := standInServers(t)
	env := func(appPassword string, more ...string) []string {
		return append([]string{
			"DATABASE_ADMIN_USER=sudoku_admin", "DATABASE_ADMIN_PASSWORD=admin-password",
			"DATABASE_URL=mysql://sudoku_app:" + appPassword + "@" + db + "/sudoku?serverVersion=8.0&charset=utf8mb4",
			"MIGRATOR_DATABASE_URL=mysql://sudoku_migrator:migrator-password@" + db + "/sudoku?serverVersion=8.0&charset=utf8mb4",
			"RELEASE_COMMAND=" + php + " app/bin/release",
		}, more...)
	}
	out, code := releaseStep(t, env("app-password")...)
	if code != 0 || !strings.Contains(out, "release: applied 0001_create_puzzle") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	const appGrants = "GRANT SELECT, INSERT, UPDATE, DELETE ON `sudoku`.* TO `sudoku_app`@`%`"
	const migratorGrants = "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, REFERENCES, INDEX, ALTER, LOCK TABLES, CREATE VIEW, SHOW VIEW, TRIGGER ON `sudoku`.* TO `sudoku_migrator`@`%`"
	if g := grants(t, db, "sudoku_app"); g != appGrants {
		t.Errorf("the app user's rights:\n%s\nwant\n%s", g, appGrants)
	}
	if g := grants(t, db, "sudoku_migrator"); g != migratorGrants {
		t.Errorf("the migrator's rights:\n%s\nwant\n%s", g, migratorGrants)
	}
	if out, err := sqlAs(t, db, "sudoku_app", "app-password", "CREATE TABLE t (n INT)"); err == nil || !strings.Contains(out, "CREATE command denied") {
		t.Errorf("the app user ran DDL: %v %s", err, out)
	}
	if out, err := sqlAs(t, db, "sudoku_app", "app-password", "INSERT INTO puzzle (grid, difficulty) VALUES (REPEAT('0', 81), 1); SELECT COUNT(*) FROM puzzle"); err != nil || out != "1" {
		t.Errorf("the app user cannot use its tables: %v %s", err, out)
	}
	// status.php, served by the image's Nginx and PHP-FPM, reports the database up with the
	// app user, and refusing a wrong password.
	public, err := filepath.Abs("app/public")
	if err != nil {
		t.Fatal(err)
	}
	for password, want := range map[string]int{"app-password": http.StatusOK, "wrong-password": http.StatusServiceUnavailable} {
		app := startApp(t, public, []string{"DATABASE_URL=mysql://sudoku_app:" + password + "@" + db + "/sudoku", "REDIS_URL=redis://default:redis-password@" + redis})
		resp, err := http.Get("http://" + app + "/status.php?strict=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want != http.StatusOK) != strings.Contains(string(body), `"reason": "access-denied"`) {
			t.Errorf("status.php with the app user's %s: %s\n%s", password, resp.Status, body)
		}
	}

	// Again: nothing to change.
	out, code = releaseStep(t, env("app-password")...)
	if code != 0 || strings.Contains(out, "new password") || strings.Contains(out, "revoked") || !strings.Contains(out, "nothing to apply") {
		t.Errorf("a second release changed something: exit %d\n%s", code, out)
	}

	// The release command runs as the migrator, and never sees the administrator's password.
	out, _ = releaseStep(t, env("app-password", `RELEASE_COMMAND=echo "as $DATABASE_URL"; echo "admin password: ${DATABASE_ADMIN_PASSWORD:-none}"`)...)
	if !strings.Contains(out, "as mysql://sudoku_migrator:") || !strings.Contains(out, "admin password: none") {
		t.Errorf("the release command's environment:\n%s", out)
	}

	// A new password (a rotation) is set, and works.
	out, code = releaseStep(t, env("rotated-password")...)
	if code != 0 || !strings.Contains(out, "release: sudoku_app: new password set") {
		t.Errorf("rotation: exit %d\n%s", code, out)
	}
	if _, err := sqlAs(t, db, "sudoku_app", "rotated-password", "SELECT 1"); err != nil {
		t.Errorf("the new password does not work: %v", err)
	}

	// Rights given by hand on the database are taken back; rights elsewhere stop the release.
	if out, err := sqlAs(t, db, "sudoku_admin", "admin-password", "GRANT DROP, ALTER ON sudoku.* TO 'sudoku_app'@'%'"); err != nil {
		t.Fatal(out)
	}
	out, code = releaseStep(t, env("rotated-password")...)
	if code != 0 || !strings.Contains(out, "release: sudoku_app: revoked DROP, ALTER") || grants(t, db, "sudoku_app") != appGrants {
		t.Errorf("extra rights: exit %d\n%s\n%s", code, out, grants(t, db, "sudoku_app"))
	}
	if out, err := sqlAs(t, db, "sudoku_admin", "admin-password", "GRANT SELECT ON mysql.* TO 'sudoku_app'@'%'"); err != nil {
		t.Fatal(out)
	}
	out, code = releaseStep(t, env("rotated-password")...)
	if code == 0 || !strings.Contains(out, "release: sudoku_app has rights beyond its database: GRANT SELECT ON `mysql`.*") {
		t.Errorf("rights elsewhere: exit %d\n%s", code, out)
	}
}

// A failing release command fails the step, which keeps the new version from starting; an
// empty one skips it.
func TestReleaseStepFailsWithItsCommand(t *testing.T) {
	t.Parallel()
	_, db, _ := standInServers(t)
	url := "DATABASE_URL=mysql://sudoku_user:db-password@" + db + "/sudoku"
	if out, code := releaseStep(t, url, "RELEASE_COMMAND=echo migrating; exit 3"); code != 3 || !strings.Contains(out, "migrating") {
		t.Errorf("exit %d, want the command's 3:\n%s", code, out)
	}
	if out, code := releaseStep(t, "DATABASE_URL=mysql://sudoku_user:db-password@127.0.0.1:1/sudoku", "RELEASE_CONNECT_SECONDS=0", "RELEASE_COMMAND=printf 'r%s\\n' an-it"); code != 1 || strings.Contains(out, "ran-it") || !strings.Contains(out, "release: cannot connect to 127.0.0.1:1 as sudoku_user") {
		t.Errorf("without the lock, the command ran or the step passed: exit %d\n%s", code, out)
	}
	if out, code := releaseStep(t, url, "RELEASE_COMMAND="); code != 0 || !strings.Contains(out, "no release command") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// On a first deploy the release step may start before the database answers (a new cluster's
// endpoint, a paused Serverless v2 cluster resuming): it asks again, saying what it waits for,
// and carries on once the server is up. The address it is given answers only after the step
// has said it is waiting (a relay to a MariaDB that is ready by then), so the step must have
// retried; its budget is far beyond anything here.
func TestReleaseStepWaitsForTheDatabase(t *testing.T) {
	t.Parallel()
	requirePhpExtensions(t, tool(t, "php"), "pdo_mysql")
	addr := freeAddr(t)
	script := strings.ReplaceAll(appImageFile(t, "/usr/local/bin/app-release"), "/usr/local/lib/sudoku/release.php", writeTemp(t, "release.php", appImageFile(t, "/usr/local/lib/sudoku/release.php")))
	cmd := exec.Command(tool(t, "bash"), writeTemp(t, "app-release", script))
	cmd.Env = append(os.Environ(), "DATABASE_URL=mysql://sudoku_user:db-password@"+addr+"/sudoku",
		"RELEASE_CONNECT_SECONDS=600", "RELEASE_COMMAND=echo released")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	if !lines.Scan() || !strings.Contains(lines.Text(), "release: waiting for the database at "+addr) {
		t.Fatalf("the step did not say it waits for the database: %q", lines.Text())
	}
	relay(t, addr, startMariaDB(t))
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text() + "\n")
	}
	if err := cmd.Wait(); err != nil || !strings.Contains(stdout.String(), "released") {
		t.Errorf("once the database was up, the step did not run its command: %v\n%s%s", err, stdout.String(), rest.String())
	}
}

// It gives up after RELEASE_CONNECT_SECONDS, saying how long it tried; a server that refuses
// the password is not retried at all.
func TestReleaseStepGivesUpOnAnAbsentDatabase(t *testing.T) {
	t.Parallel()
	requirePhpExtensions(t, tool(t, "php"), "pdo_mysql")
	out, code := releaseStep(t, "DATABASE_URL=mysql://sudoku_user:db-password@"+freeAddr(t)+"/sudoku", "RELEASE_CONNECT_SECONDS=2", "RELEASE_COMMAND=printf 'r%s\\n' an-it")
	if code != 1 || !strings.Contains(out, "release: waiting for the database") || !regexp.MustCompile(`cannot connect to \S+ as sudoku_user \([2-9] attempts in [0-9]+ s\)`).MatchString(out) || strings.Contains(out, "ran-it") {
		t.Errorf("exit %d, want 1 after a few attempts:\n%s", code, out)
	}
	_, db, _ := standInServers(t)
	out, code = releaseStep(t, "DATABASE_URL=mysql://sudoku_user:wrong@"+db+"/sudoku", "RELEASE_COMMAND=printf 'r%s\\n' an-it")
	if code != 1 || strings.Contains(out, "waiting for the database") || !strings.Contains(out, "refuses sudoku_user's password") {
		t.Errorf("a refused password: exit %d, want 1 at once:\n%s", code, out)
	}
}

// relay accepts connections on addr, from now on, and passes each to target.
func relay(t *testing.T, addr, target string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

// Release commands of their own take no lock (Doctrine Migrations takes none): the release
// step holds one around them, so that release steps starting together run one at a time.
func TestReleaseStepsTakeTurns(t *testing.T) {
	t.Parallel()
	_, db, _ := standInServers(t)
	mariadb := tool(t, "mariadb") + " --no-defaults -h 127.0.0.1 -P " + portOf(db) + " -usudoku_user -pdb-password -N sudoku"
	if out, err := sqlAs(t, db, "sudoku_user", "db-password", "CREATE TABLE runs (n INT)"); err != nil {
		t.Fatal(out)
	}
	// Not safe to run twice at once: each run that finds no row sleeps, then adds one.
	command := `[ "$(` + mariadb + ` -e 'SELECT COUNT(*) FROM runs')" = 0 ] && sleep 1 && ` + mariadb + ` -e 'INSERT INTO runs VALUES (1)'; exit 0`
	var wg sync.WaitGroup
	outs := make([]string, 3)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], _ = releaseStep(t, "DATABASE_URL=mysql://sudoku_user:db-password@"+db+"/sudoku", "RELEASE_COMMAND="+command)
		}()
	}
	wg.Wait()
	if n := mustQuery(t, db, "SELECT COUNT(*) FROM runs"); n != "1" {
		t.Errorf("three release steps at once ran the command %s times over:\n%s", n, strings.Join(outs, "\n"))
	}
}
