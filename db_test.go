package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// dbScript runs scripts/db.sh for stack alice against a real MariaDB: a stand-in docker runs
// what the script would run in the database container (`docker exec ... sh -c ...`) here,
// with the container's MYSQL_ROOT_PASSWORD_FILE, and mysqldump and mysql pointed at db.
// The container runs while dir/running exists.
func dbScript(t *testing.T, dir, db string, args ...string) (string, error) {
	t.Helper()
	clients := filepath.Join(dir, "clients")
	if err := os.MkdirAll(clients, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"mysqldump", "mysql"} {
		// --defaults-extra-file must stay first.
		fakeBin(t, clients, c, `opts=$1; shift; exec `+tool(t, c)+` "$opts" --protocol=tcp --host=127.0.0.1 --port=`+portOf(db)+` "$@"`)
	}
	docker := `case "$1" in
version) echo 28.2.2 ;;
info) ;;
inspect) [ "$4" = sudoku-alice-db ] && [ -f ` + dir + `/running ] && { echo true; exit 0; }; echo "Error: No such object: $4" >&2; exit 1 ;;
exec) shift; [ "$1" = -i ] && shift; shift
	exec env MYSQL_ROOT_PASSWORD_FILE=` + dir + `/root-password PATH=` + clients + `:"$PATH" "$@" ;;
*) exit 2 ;;
esac`
	cmd := exec.Command("scripts/db.sh", args...)
	cmd.Env = append(withFakes(t, map[string]string{"docker": docker}), "HOME="+t.TempDir(), "STACK=alice", "SUDOKU_BACKUP_DIR="+filepath.Join(dir, "backups"))
	cmd.Env[0] += ":" + hostTools(t, append(scriptTools, "sh", "env", "tail", "mv", "wc")...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// make db-dump writes a whole dump of the running stack's database, readable by its owner
// alone; make db-restore loads one, after dumping what the database held, and refuses what
// is not a whole dump, or a stack that does not run, changing nothing.
func TestDatabaseDumpAndRestore(t *testing.T) {
	t.Parallel()
	tool(t, "mysqldump")
	_, db, _ := standInServers(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "root-password"), []byte("root-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The image's root user, as the MySQL image makes it from MYSQL_ROOT_PASSWORD_FILE (over
	// loopback, MariaDB's install has its own root@127.0.0.1).
	if out, err := sqlAs(t, db, "sudoku_admin", "admin-password", "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY 'root-password'; GRANT ALL ON *.* TO 'root'@'127.0.0.1'"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	mustQuery(t, db, "CREATE TABLE puzzle (id INT PRIMARY KEY, grid CHAR(81)); INSERT INTO puzzle VALUES (1, REPEAT('1', 81))")
	rows := func() string { return mustQuery(t, db, "SELECT GROUP_CONCAT(id ORDER BY id) FROM puzzle") }

	if out, err := dbScript(t, dir, db, "dump"); err == nil || !strings.Contains(out, "no database container sudoku-alice-db is running: bring the stack up first (STACK=alice make up)") {
		t.Errorf("a dump without a running stack: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "running"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(dir, "puzzles.sql")
	if out, err := dbScript(t, dir, db, "dump", dump); err != nil || !strings.Contains(out, "Dumped the database of stack alice to "+dump) {
		t.Fatalf("dump: %v\n%s", err, out)
	}
	data, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "\n-- MariaDB dump") || !strings.Contains(string(data), "INSERT INTO `puzzle` VALUES") {
		t.Errorf("the dump:\n%s", data)
	}
	if info, _ := os.Stat(dump); info.Mode().Perm() != 0o600 {
		t.Errorf("the dump is %v, want readable by its owner alone", info.Mode().Perm())
	}
	if out, err := dbScript(t, dir, db, "dump", dump); err == nil || !strings.Contains(out, dump+" exists") {
		t.Errorf("a dump over an existing file: %v\n%s", err, out)
	}
	// Without a file name, into the backups folder.
	if out, err := dbScript(t, dir, db, "dump"); err != nil || !strings.Contains(out, filepath.Join(dir, "backups", "alice-")) {
		t.Errorf("a dump into backups/: %v\n%s", err, out)
	}

	mustQuery(t, db, "DELETE FROM puzzle; INSERT INTO puzzle VALUES (2, REPEAT('2', 81))")
	truncated := writeTemp(t, "truncated.sql", string(data[:len(data)/2]))
	for file, want := range map[string]string{
		filepath.Join(dir, "nowhere.sql"):        "is not a file this user can read",
		writeTemp(t, "notes.txt", "SELECT 1;\n"): "is not a whole dump of mysqldump (make db-dump)",
		truncated:                                "is not a whole dump of mysqldump (make db-dump)",
	} {
		if out, err := dbScript(t, dir, db, "restore", file); err == nil || !strings.Contains(out, want) {
			t.Errorf("restore %s: %v\n%s", filepath.Base(file), err, out)
		}
	}
	if out, err := dbScript(t, dir, db, "restore"); err == nil || !strings.Contains(out, "name the dump to load: make db-restore FILE=") {
		t.Errorf("restore without a file: %v\n%s", err, out)
	}
	if got := rows(); got != "2" {
		t.Fatalf("a refused restore changed the data: rows %s", got)
	}

	out, err := dbScript(t, dir, db, "restore", dump)
	if err != nil || !strings.Contains(out, "Loaded "+dump+" into the database of stack alice") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if got := rows(); got != "1" {
		t.Errorf("after the restore, rows %s; want the dump's 1", got)
	}
	// What the database held before the restore is kept, and loads back.
	safety, _ := filepath.Glob(filepath.Join(dir, "backups", "alice-before-restore-*.sql"))
	if len(safety) != 1 {
		t.Fatalf("no dump of what the restore replaced: %v\n%s", safety, out)
	}
	if _, err := dbScript(t, dir, db, "restore", safety[0]); err != nil || rows() != "2" {
		t.Errorf("the dump taken before the restore does not bring the data back: %v, rows %s", err, rows())
	}

	// A dump that fails leaves no file.
	if err := os.WriteFile(filepath.Join(dir, "root-password"), []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	failed := filepath.Join(dir, "failed.sql")
	if out, err := dbScript(t, dir, db, "dump", failed); err == nil || !strings.Contains(out, "nothing was written to "+failed) {
		t.Errorf("a failed dump: %v\n%s", err, out)
	}
	if leftovers, _ := filepath.Glob(failed + "*"); len(leftovers) != 0 {
		t.Errorf("a failed dump left %v", leftovers)
	}
}
