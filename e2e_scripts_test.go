package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scripts/e2e.sh, run with stand-ins for pulumi, docker, aws and go that log what they are
// asked and answer as a stack would.

// e2eLocalFakes are stand-ins for a local stack's tools: pulumi and go log their arguments to
// dir/pulumi.log and dir/go.log; docker keeps the row the test writes in dir/marker, forgets it
// when dir/lose-data exists, and lists a container as left over when dir/leftover exists.
func e2eLocalFakes(t *testing.T, dir string) []string {
	t.Helper()
	return withFakes(t, map[string]string{
		"pulumi": `echo "$*" >>` + dir + `/pulumi.log
case "$*" in
"stack output containers --json"*) echo '{"db": "sudoku-e2e-local-db"}' ;;
*"stack output"*"--json --show-secrets"*) echo '{"url": "http://localhost:18080", "mercurePublisherJwtKey": "a-key", "mercureSubscriberJwtKey": "a-key"}' ;;
esac
exit 0`,
		"go": `echo "$*" >>` + dir + `/go.log`,
		"docker": `case "$1" in
exec) sql=$(cat)
	case "$sql" in
	*INSERT*) echo "$sql" | sed -n "s/.*VALUES ('\(.*\)').*/\1/p" >` + dir + `/marker ;;
	SELECT*) [ -e ` + dir + `/lose-data ] || cat ` + dir + `/marker ;;
	esac ;;
ps) [ -e ` + dir + `/leftover ] && echo "container sudoku-e2e-local-app" ;;
version) echo 28.2.2 ;;
esac
exit 0`,
	})
}

func e2eLocal(t *testing.T, dir string, env ...string) (string, string, error) {
	t.Helper()
	env = append(e2eLocalFakes(t, dir), append(env, "XDG_CONFIG_HOME="+t.TempDir())...)
	out, _, summary, err := runScript(t, "scripts/e2e.sh", env, "", "local")
	return out, summary, err
}

// pulumiCalls are the logged pulumi commands, without the stack selections local.sh makes
// before each.
func pulumiCalls(t *testing.T, dir string) []string {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(dir, "pulumi.log"))
	var calls []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if !strings.HasPrefix(line, "stack select") && !strings.HasPrefix(line, "stack output") {
			calls = append(calls, line)
		}
	}
	return calls
}

// The local end-to-end test: up, a row written, down, up on the production image, the row
// read back, destroy, nothing left, the stack removed; each phase timed in the job summary.
func TestE2ELocalRunsTheWholeCycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, summary, err := e2eLocal(t, dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := []string{
		"config set sudoku:httpPort 18080",
		"up --stack e2e-local --yes --non-interactive --skip-preview --skip-plugin-pre-install",
		"preview --stack e2e-local --expect-no-changes --diff --non-interactive --skip-plugin-pre-install", // a second preview finds nothing to do
		"destroy --stack e2e-local --yes --non-interactive --skip-plugin-pre-install --target",             // make down
		"config set sudoku:phpTarget production",
		"up --stack e2e-local --yes --non-interactive --skip-preview --skip-plugin-pre-install",
		"preview --stack e2e-local --expect-no-changes --diff --non-interactive --skip-plugin-pre-install",
		"destroy --stack e2e-local --yes --non-interactive --skip-plugin-pre-install", // make destroy
		"stack rm --yes --non-interactive",
	}
	calls := pulumiCalls(t, dir)
	if len(calls) != len(want) {
		t.Fatalf("pulumi was run as\n%s\nwant\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(calls[i], w) || (i == 7 && strings.Contains(calls[i], "--target")) {
			t.Errorf("pulumi call %d: %q, want %q", i+1, calls[i], w)
		}
	}
	smokes, _ := os.ReadFile(filepath.Join(dir, "go.log"))
	if n := strings.Count(string(smokes), "run ./cmd/smoke -outputs -"); n != 2 {
		t.Errorf("the smoke test ran %d times, want after each up:\n%s", n, smokes)
	}
	for _, w := range []string{"| make up (development image, with Xdebug) |", "| make down |", "| make up (production image, kept data and credentials) |", "| make destroy |", "| **Total** (budget 10 min) |"} {
		if !strings.Contains(summary, w) {
			t.Errorf("the job summary lacks %q:\n%s", w, summary)
		}
	}
	if !strings.Contains(out, "The data written before 'make down' survived it.") || !strings.Contains(out, "Nothing of stack e2e-local is left in Docker.") {
		t.Errorf("output:\n%s", out)
	}
}

// Lost data, or anything left after make destroy, fails the test, saying what; the stack is
// destroyed and removed on the way out.
func TestE2ELocalFailsOnLostDataOrLeftovers(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ flag, want string }{
		{"lose-data", "the row written before 'make down' is not there after 'make up': the data volume did not survive"},
		{"leftover", "'make destroy' left these behind:\ncontainer sudoku-e2e-local-app"},
	} {
		t.Run(c.flag, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, c.flag), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			out, _, err := e2eLocal(t, dir)
			if err == nil || !strings.Contains(out, c.want) {
				t.Fatalf("want a failure saying %q; got %v:\n%s", c.want, err, out)
			}
			calls := pulumiCalls(t, dir)
			if last := calls[len(calls)-1]; !strings.HasPrefix(last, "stack rm") || !strings.Contains(strings.Join(calls, "\n"), "destroy --stack e2e-local --yes --non-interactive --skip-plugin-pre-install\n") {
				t.Errorf("the failed run did not destroy and remove its stack:\n%s", strings.Join(calls, "\n"))
			}
		})
	}
}

// The end-to-end test destroys its stack: it refuses the names of stacks people keep.
func TestE2ELocalRefusesAKeptStack(t *testing.T) {
	t.Parallel()
	for _, stack := range []string{"local", "staging", "production"} {
		dir := t.TempDir()
		out, _, err := e2eLocal(t, dir, "STACK="+stack)
		if err == nil || !strings.Contains(out, "STACK="+stack+": the end-to-end test destroys its stack") {
			t.Errorf("STACK=%s: %v\n%s", stack, err, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "pulumi.log")); err == nil {
			t.Errorf("STACK=%s: pulumi ran", stack)
		}
	}
}

// awsFakes are stand-ins for an AWS end-to-end stack's tools. pulumi and go log to dir;
// aws answers for a stack whose in-VPC status task exits with dir/status-exit (0 without it).
func awsFakes(t *testing.T, dir string) []string {
	t.Helper()
	return withFakes(t, map[string]string{
		"pulumi": `echo "$*" >>` + dir + `/pulumi.log
case "$*" in
"stack select e2e-gone"*) echo "error: no stack named 'e2e-gone' found" >&2; exit 255 ;;
"stack select e2e-locked"*) echo "error: the stack is locked" >&2; exit 255 ;;
"stack output url "*) echo http://sudoku-e2e.elb.example ;;
"stack output secretArns "*) echo '{"mercure": "arn:mercure"}' ;;
"stack output clusterName "*) echo sudoku-e2e-1-1 ;;
"stack output serviceNames "*) echo '{"app": "app-svc"}' ;;
"stack output taskDefinitionArns "*) echo '{"app": "arn:taskdef:app:3"}' ;;
"stack output logGroups "*) echo '{"app": "/sudoku/e2e-1-1/app"}' ;;
"preview "*) echo '{"steps": []}' ;;
esac
exit 0`,
		"go": `{ echo "$*"; echo "publisher=$MERCURE_PUBLISHER_JWT_KEY subscriber=$MERCURE_SUBSCRIBER_JWT_KEY"; } >>` + dir + `/go.log`,
		"aws": `echo "$*" >>` + dir + `/aws.log
case "$1 $2" in
"secretsmanager get-secret-value") echo '{"publisher_jwt_key": "pub-secret", "subscriber_jwt_key": "sub-secret"}' ;;
"ecs describe-services") echo '{"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-app"], "assignPublicIp": "DISABLED"}}' ;;
"ecs describe-task-definition") case "$*" in *"containerDefinitions[?essential].name | [0]"*) echo app ;; *) echo release ;; esac ;;
"ecs run-task") echo arn:task:1 ;;
"ecs describe-tasks") cat ` + dir + `/status-exit 2>/dev/null || echo 0 ;;
esac
exit 0`,
	})
}

// The AWS steps take only a stack named e2e-*, short enough for AWS's names.
func TestE2EAWSStackNames(t *testing.T) {
	t.Parallel()
	for _, stack := range []string{"", "staging", "production", "e2e-123456789012345678901"} {
		out, _, _, err := runScript(t, "scripts/e2e.sh", append(awsFakes(t, t.TempDir()), "E2E_STACK="+stack), "", "aws-up")
		if err == nil || !strings.Contains(out, "E2E_STACK") {
			t.Errorf("E2E_STACK=%q: %v\n%s", stack, err, out)
		}
	}
}

// aws-up creates the stack from scripts/e2e-aws.yaml, with HTTPS when the workflow has a
// zone, previews it for the cost report, and brings it up.
func TestE2EAWSUp(t *testing.T) {
	t.Parallel()
	// A stack of its own: aws-up writes Pulumi.<stack>.yaml into the checkout, and the other
	// tests' aws-destroy removes that of theirs.
	stack := "e2e-up-" + strconv.Itoa(os.Getpid())
	dir := t.TempDir()
	t.Cleanup(func() { os.Remove("Pulumi." + stack + ".yaml") })
	out, _, summary, err := runScript(t, "scripts/e2e.sh", append(awsFakes(t, dir), "E2E_STACK="+stack, "E2E_DOMAIN=e2e.example.com", "E2E_HOSTED_ZONE_ID=Z123"), "", "aws-up")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	file, _ := os.ReadFile("Pulumi." + stack + ".yaml")
	template, _ := os.ReadFile(e2eStackFile)
	if string(file) != string(template) {
		t.Error("the stack file is not scripts/e2e-aws.yaml")
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "pulumi.log"))
	want := strings.ReplaceAll("stack select e2e-1-1 --non-interactive --create\n"+
		"config set --stack e2e-1-1 sudoku:domainName e2e-1-1.e2e.example.com\n"+
		"config set --stack e2e-1-1 sudoku:hostedZoneId Z123\n"+
		"config rm --stack e2e-1-1 sudoku:allowHttpOnly\n"+
		"preview --stack e2e-1-1 --json --show-sames --non-interactive\n"+
		"up --stack e2e-1-1 --yes --non-interactive --skip-preview\n"+
		"preview --stack e2e-1-1 --expect-no-changes --diff --non-interactive\n", "e2e-1-1", stack)
	if string(calls) != want {
		t.Errorf("pulumi was run as\n%s\nwant\n%s", calls, want)
	}
	if !strings.Contains(summary, "| pulumi up |") {
		t.Errorf("summary: %s", summary)
	}

	// The restore drill: the cluster from a snapshot, and a second up (IAM authentication
	// comes with the update after a restore) before the check that nothing is left to change.
	dir = t.TempDir()
	out, _, _, err = runScript(t, "scripts/e2e.sh", append(awsFakes(t, dir), "E2E_STACK="+stack, "E2E_RESTORE_SNAPSHOT=sudoku-staging-db-final"), "", "aws-up")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	calls, _ = os.ReadFile(filepath.Join(dir, "pulumi.log"))
	want = strings.ReplaceAll("stack select e2e-1-1 --non-interactive --create\n"+
		"config set --stack e2e-1-1 sudoku:dbRestoreSnapshot sudoku-staging-db-final\n"+
		"preview --stack e2e-1-1 --json --show-sames --non-interactive\n"+
		"up --stack e2e-1-1 --yes --non-interactive --skip-preview\n"+
		"up --stack e2e-1-1 --yes --non-interactive --skip-preview\n"+
		"preview --stack e2e-1-1 --expect-no-changes --diff --non-interactive\n", "e2e-1-1", stack)
	if string(calls) != want {
		t.Errorf("the restore drill ran pulumi as\n%s\nwant\n%s", calls, want)
	}
}

// aws-check runs the smoke test from outside with the hub's keys from Secrets Manager,
// masked in GitHub's log, and status.php as a one-off task in the app's network.
func TestE2EAWSCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out, _, _, err := runScript(t, "scripts/e2e.sh", append(awsFakes(t, dir), "E2E_STACK=e2e-1-1", "GITHUB_ACTIONS=true"), "", "aws-check")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	smoke, _ := os.ReadFile(filepath.Join(dir, "go.log"))
	if want := "run ./cmd/smoke -timeout 5m -status hidden -min-tls 1.2 http://sudoku-e2e.elb.example\npublisher=pub-secret subscriber=sub-secret\n"; string(smoke) != want {
		t.Errorf("the smoke test ran as\n%s\nwant\n%s", smoke, want)
	}
	if !strings.Contains(out, "::add-mask::pub-secret") || !strings.Contains(out, "::add-mask::sub-secret") {
		t.Errorf("the keys are not masked:\n%s", out)
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "aws.log"))
	runTask := `ecs run-task --cluster sudoku-e2e-1-1 --task-definition arn:taskdef:app:3 --launch-type FARGATE --network-configuration {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-app"], "assignPublicIp": "DISABLED"}} --overrides {"containerOverrides":[{"name":"app","command":["php","public/status.php"]}]}`
	if !strings.Contains(string(calls), runTask) || !strings.Contains(string(calls), "ecs wait tasks-stopped --cluster sudoku-e2e-1-1 --tasks arn:task:1") {
		t.Errorf("status.php was not run as a task in the app's network:\n%s", calls)
	}

	// When MySQL or Redis refuses the app, the task exits 1, and the check fails saying where
	// the app's log is.
	if err := os.WriteFile(filepath.Join(dir, "status-exit"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, _, err = runScript(t, "scripts/e2e.sh", append(awsFakes(t, dir), "E2E_STACK=e2e-1-1"), "", "aws-check")
	if err == nil || !strings.Contains(out, "status.php inside the VPC exited 1: the app cannot use MySQL or Redis; its output is in the log group /sudoku/e2e-1-1/app") {
		t.Errorf("want a failure naming the log group; got %v:\n%s", err, out)
	}
}

// aws-destroy destroys and removes the stack, and prices the run; a stack that was never
// created is nothing to destroy, but a stack it cannot select is an error.
func TestE2EAWSDestroy(t *testing.T) {
	t.Parallel()
	dir, work := t.TempDir(), t.TempDir()
	preview, err := os.ReadFile("cmd/costreport/testdata/single-nat.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "e2e-preview.json"), preview, 0o644); err != nil {
		t.Fatal(err)
	}
	// The run started 73 hours ago: the new state of the sample ($42.13 a month) for 73 h.
	if err := os.WriteFile(filepath.Join(work, "e2e-aws-start"), []byte(strconvTime(-73*3600)), 0o644); err != nil {
		t.Fatal(err)
	}
	fakes := awsFakes(t, dir)
	fakes = fakes[:1] // the real go, for cmd/costreport: drop the fake
	if err := os.Remove(filepath.Join(strings.TrimPrefix(fakes[0], "PATH="), "go")); err != nil {
		t.Fatal(err)
	}
	out, _, summary, err := runScript(t, "scripts/e2e.sh", append(fakes, "E2E_STACK=e2e-1-1", "RUNNER_TEMP="+work), "", "aws-destroy")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "pulumi.log"))
	if !strings.Contains(string(calls), "destroy --stack e2e-1-1 --yes --non-interactive --skip-preview\nstack rm --stack e2e-1-1 --yes --non-interactive\n") {
		t.Errorf("pulumi was run as\n%s", calls)
	}
	if !strings.Contains(summary, "| **Total** | **4380m") || !strings.Contains(summary, "For 73h0m0s: $4.21") {
		t.Errorf("the summary lacks the run's duration or cost:\n%s", summary)
	}

	out, _, _, err = runScript(t, "scripts/e2e.sh", append(awsFakes(t, t.TempDir()), "E2E_STACK=e2e-gone"), "", "aws-destroy")
	if err != nil || !strings.Contains(out, "Stack e2e-gone does not exist: nothing to destroy.") {
		t.Errorf("a stack never created: %v\n%s", err, out)
	}
	out, _, _, err = runScript(t, "scripts/e2e.sh", append(awsFakes(t, t.TempDir()), "E2E_STACK=e2e-locked"), "", "aws-destroy")
	if err == nil || !strings.Contains(out, "cannot select stack e2e-locked to destroy it: error: the stack is locked") {
		t.Errorf("a stack it cannot select: %v\n%s", err, out)
	}
}

// strconvTime is the Unix time offset seconds from now, as `date +%s` writes it.
func strconvTime(offset int64) string {
	return strconv.FormatInt(time.Now().Unix()+offset, 10)
}

// containerd-store adds the feature to daemon.json, keeping what is there, restarts Docker,
// and fails when the engine does not come back on the containerd store.
func TestCIContainerdStore(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, before, driverStatus, want string
		ok                               bool
	}{
		{"keeps the runner's settings", `{"exec-opts": ["native.cgroupdriver=cgroupfs"]}`, `[["driver-type","io.containerd.snapshotter.v1"]]`,
			`{"exec-opts":["native.cgroupdriver=cgroupfs"],"features":{"containerd-snapshotter":true}}`, true},
		{"no daemon.json", "", `[["driver-type","io.containerd.snapshotter.v1"]]`, `{"features":{"containerd-snapshotter":true}}`, true},
		{"the engine ignores it", "", `[["Backing Filesystem","extfs"]]`, "does not use the containerd image store", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			conf := filepath.Join(dir, "daemon.json")
			if c.before != "" {
				if err := os.WriteFile(conf, []byte(c.before), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fakes := withFakes(t, map[string]string{
				"sudo":      `"$@"`,
				"tee":       `cat >"$1"`,
				"seq":       `echo 1`,
				"systemctl": `echo "$*" >>` + dir + `/systemctl.log`,
				"docker":    `echo '` + c.driverStatus + `'`,
			})
			out, _, err := ciScript(t, append(fakes, "DOCKER_DAEMON_JSON="+conf), "containerd-store")
			if c.ok != (err == nil) {
				t.Fatalf("%v\n%s", err, out)
			}
			if !c.ok {
				if !strings.Contains(out, c.want) {
					t.Errorf("want %q:\n%s", c.want, out)
				}
				return
			}
			got, _ := os.ReadFile(conf)
			if compact := strings.Join(strings.Fields(string(got)), ""); compact != c.want {
				t.Errorf("daemon.json = %s, want %s", got, c.want)
			}
			if log, _ := os.ReadFile(filepath.Join(dir, "systemctl.log")); string(log) != "restart docker\n" {
				t.Errorf("systemctl: %q", log)
			}
		})
	}
}
