package main

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sudoku/infra/internal/mocks"
)

// The workflows' glue (scripts/ci.sh), run with stand-ins for pulumi and gh.

// fakeBin writes an executable shell script named name into dir. A stand-in pulumi whose body
// does not answer `pulumi version` itself answers it as the CLI the workflows pin
// (pulumiCLIOf), as every real one does.
func fakeBin(t *testing.T, dir, name, body string) {
	t.Helper()
	if name == "pulumi" && !strings.Contains(body, `"$1" = version`) {
		body = pulumiCLIOf("v3.274.1") + "\n" + body
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// ciScript runs scripts/ci.sh with the host's environment minus what CI or a developer's
// shell could set (GitHub's and Pulumi's variables), the fakes in env's PATH first, and of the
// host's commands only those the scripts use.
func ciScript(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	return ciScriptWithFindings(t, env, "", args...)
}

// ciScriptWithFindings is ciScript with the guard's findings file of an earlier step.
func ciScriptWithFindings(t *testing.T, env []string, findings string, args ...string) (string, string, error) {
	t.Helper()
	combined, outputs, _, err := runScript(t, "scripts/ci.sh", env, findings, args...)
	return combined, outputs, err
}

// runScript runs script as ciScript runs scripts/ci.sh, and returns its output, its step
// outputs and its job summary.
func runScript(t *testing.T, script string, env []string, findings string, args ...string) (string, string, string, error) {
	t.Helper()
	tmp := t.TempDir()
	for _, e := range env {
		if dir, ok := strings.CutPrefix(e, "RUNNER_TEMP="); ok {
			tmp = dir // an earlier step's working files
		}
	}
	if findings != "" {
		data, err := os.ReadFile(findings)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, "guard.md"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, summary := filepath.Join(tmp, "github-output"), filepath.Join(tmp, "github-step-summary")
	cmd := exec.Command(script, args...)
	tools := hostTools(t, append(scriptTools, "go")...)
	for _, e := range os.Environ() {
		name, _, _ := strings.Cut(e, "=")
		if name != "PATH" && !strings.HasPrefix(name, "GITHUB_") && !strings.HasPrefix(name, "PULUMI_") &&
			!strings.HasPrefix(name, "RUNNER_") && name != "ALLOW_DESTRUCTIVE_INPUT" && name != "GH_TOKEN" {
			cmd.Env = append(cmd.Env, e)
		}
	}
	fakes := ""
	for _, e := range env {
		if p, ok := strings.CutPrefix(e, "PATH="); ok {
			fakes = p + ":"
		} else {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, "PATH="+fakes+tools, "RUNNER_TEMP="+tmp, "GITHUB_OUTPUT="+out, "GITHUB_STEP_SUMMARY="+summary)
	if len(args) > 0 && args[0] == "guard" {
		cmd.Env = append(cmd.Env, "SUDOKU_TOOLS="+builtTools(t))
	}
	combined, err := cmd.CombinedOutput()
	outputs, _ := os.ReadFile(out)
	summaryText, _ := os.ReadFile(summary)
	return string(combined), string(outputs), string(summaryText), err
}

var (
	builtToolsOnce sync.Once
	builtToolsDir  string
	builtToolsErr  error
)

// guardCommands are what scripts/ci.sh guard runs; testCommands are those and the smoke test.
var (
	guardCommands = []string{"./cmd/previewguard", "./cmd/costreport", "./cmd/diagram"}
	testCommands  = append([]string{"./cmd/smoke", "./cmd/driftreport"}, guardCommands...)
)

// builtTools is a directory with this module's commands that the tests run: the guard step's
// three, which scripts/ci.sh guard takes from SUDOKU_TOOLS instead of building them on every
// call, cmd/driftreport, which scripts/drift.sh takes from there too, and cmd/smoke. It is kept in the user's cache under a hash of everything that goes
// into them (this module's packages they import, go.sum, the Go version and GOFLAGS), so a
// later test run with nothing changed builds nothing, and any change builds them again.
func builtTools(t *testing.T) string {
	t.Helper()
	builtToolsOnce.Do(func() { builtToolsDir, builtToolsErr = buildTools() })
	if builtToolsErr != nil {
		t.Fatal(builtToolsErr)
	}
	return builtToolsDir
}

func buildTools() (string, error) {
	out, err := exec.Command("go", append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{if not .Module}}{{.Dir}}{{else if .Module.Main}}{{.Dir}}{{end}}{{end}}"}, testCommands...)...).Output()
	if err != nil {
		return "", fmt.Errorf("go list: %w", err)
	}
	version, err := exec.Command("go", "version").Output()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\nGOFLAGS=%s\n", version, os.Getenv("GOFLAGS"))
	files := []string{"go.mod", "go.sum"}
	for _, dir := range strings.Fields(string(out)) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return "", err
		}
		for _, e := range entries {
			if !e.IsDir() {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	root, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		// By the path in the module, so that a copy of the repository (make bench's) finds
		// the same build.
		name, err := filepath.Rel(root, f)
		if err != nil {
			name = f
		}
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
	}
	return userCached("tools", h.Sum(nil), func(dir string) error {
		if out, err := exec.Command("go", append([]string{"build", "-o", dir + "/"}, testCommands...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %w\n%s", err, out)
		}
		return nil
	})
}

// withFakes is a PATH entry with stand-ins for the named commands.
func withFakes(t *testing.T, fakes map[string]string) []string {
	t.Helper()
	bin := t.TempDir()
	for name, body := range fakes {
		fakeBin(t, bin, name, body)
	}
	return []string{"PATH=" + bin}
}

func TestCIGuardStep(t *testing.T) {
	t.Parallel()
	sample := func(name string) string {
		p, _ := filepath.Abs(filepath.Join("cmd/previewguard/testdata", name))
		return p
	}
	cases := []struct {
		sample, pulumiExit string
		destructive        string // step output; "" when the step must fail
	}{
		{"create-only.json", "0", "false"},
		{"replace-aurora.json", "0", "true"},
		{"failed-preview.json", "255", ""},
		{"malformed.json", "0", ""},
	}
	for _, c := range cases {
		t.Run(c.sample, func(t *testing.T) {
			env := withFakes(t, map[string]string{"pulumi": "cat " + sample(c.sample) + "; exit " + c.pulumiExit})
			log, outputs, err := ciScript(t, env, "guard")
			if c.destructive == "" {
				if err == nil {
					t.Fatalf("the step passed:\n%s", log)
				}
				return
			}
			if err != nil {
				t.Fatalf("the step failed: %v\n%s", err, log)
			}
			if want := "destructive=" + c.destructive; !strings.Contains(outputs, want) {
				t.Errorf("outputs %q, want %s\n%s", outputs, want, log)
			}
			// The cost of the change follows the findings.
			if !strings.Contains(log, "### Cost of this change to staging: $") {
				t.Errorf("no cost report under the findings:\n%s", log)
			}
		})
	}
}

// The preview comment shows the stack's architecture after the change, and says whether it
// differs from the docs' diagram.
func TestCIGuardDrawsTheArchitecture(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		overrides map[string]string
		note      string
	}{{nil, "(as the docs draw it)"}, {map[string]string{"waf": "true"}, "(it differs from the docs': run make golden to redraw that)"}} {
		previewFile := filepath.Join(t.TempDir(), "preview.json")
		if err := os.WriteFile(previewFile, mustRun(t, "staging", c.overrides).PreviewJSON(nil), 0o644); err != nil {
			t.Fatal(err)
		}
		log, _, err := ciScript(t, withFakes(t, map[string]string{"pulumi": "cat " + previewFile}), "guard")
		if err != nil {
			t.Fatalf("%v\n%s", err, log)
		}
		if want := "<details><summary>Architecture of staging after this change " + c.note; !strings.Contains(log, want) || !strings.Contains(log, "```mermaid\nflowchart LR") {
			t.Errorf("no %q in:\n%s", want, log)
		}
	}
}

// The cost report needs what a change keeps, which a preview shows only with --show-sames.
func TestCIGuardAsksForSames(t *testing.T) {
	t.Parallel()
	args := filepath.Join(t.TempDir(), "args")
	create, _ := filepath.Abs("cmd/previewguard/testdata/create-only.json")
	env := withFakes(t, map[string]string{"pulumi": `echo "$*" >"` + args + `"; cat '` + create + `'`})
	if log, _, err := ciScript(t, env, "guard"); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if got, _ := os.ReadFile(args); !strings.Contains(" "+string(got), " --show-sames ") {
		t.Errorf("pulumi preview %s", got)
	}
}

// The dependents that a delete-before-replace deletes first show only with
// --show-replacement-steps; the stand-in pulumi leaves them out otherwise, as pulumi does.
func TestCIGuardSeesReplacementSteps(t *testing.T) {
	t.Parallel()
	full, _ := filepath.Abs("cmd/previewguard/testdata/dbr-dependent.json")
	logical := `{"steps": [{"op": "same", "urn": "urn:pulumi:staging::sudoku::pulumi:pulumi:Stack::sudoku-staging"},
		{"op": "replace", "urn": "urn:pulumi:staging::sudoku::sudoku:components:Database$aws:rds/subnetGroup:SubnetGroup::db-subnets"}]}`
	fake := `case " $* " in *" --show-replacement-steps "*) cat '` + full + `' ;; *) echo '` + logical + `' ;; esac`
	log, outputs, err := ciScript(t, withFakes(t, map[string]string{"pulumi": fake}), "guard")
	if err != nil || !strings.Contains(outputs, "destructive=true") || !strings.Contains(log, "db-cluster") {
		t.Errorf("the guard missed the Aurora cluster a delete-before-replace deletes: %v, outputs %q\n%s", err, outputs, log)
	}
}

func TestCIAllowDestructiveStep(t *testing.T) {
	t.Parallel()
	env := []string{"GITHUB_REPOSITORY=org/repo", "GITHUB_SHA=abc123"}
	labelled := withFakes(t, map[string]string{"gh": `echo "#42"`})
	unlabelled := withFakes(t, map[string]string{"gh": `echo ""`})
	if log, _, err := ciScript(t, append(env, labelled...), "allow-destructive"); err != nil || !strings.Contains(log, "#42 had the label") {
		t.Errorf("a labelled merge was refused: %v\n%s", err, log)
	}
	if log, _, err := ciScript(t, append(env, unlabelled...), "allow-destructive"); err == nil || !strings.Contains(log, "allow-destructive-changes") {
		t.Errorf("an unlabelled merge was allowed: %s", log)
	}
	if log, _, err := ciScript(t, append(env, append(unlabelled, "ALLOW_DESTRUCTIVE_INPUT=true")...), "allow-destructive"); err != nil {
		t.Errorf("the manual override was refused: %v\n%s", err, log)
	}
}

func TestCISelectNeedsABackend(t *testing.T) {
	t.Parallel()
	noBackend := []string{"PULUMI_BACKEND_URL=", "PULUMI_ACCESS_TOKEN="}
	// Not logged in: pulumi whoami fails.
	env := withFakes(t, map[string]string{"pulumi": `[ "$1" = whoami ] && exit 255; exit 0`})
	log, _, err := ciScript(t, append(env, noBackend...), "select")
	if err == nil || !strings.Contains(log, "pulumi login") || !strings.Contains(log, "PULUMI_BACKEND_URL") {
		t.Errorf("selecting without a backend: %v\n%s", err, log)
	}
	// Logged in with `pulumi login` (as docs/aws.md: Running staging does): the stack is selected.
	env = withFakes(t, map[string]string{"pulumi": `[ "$1" = stack ] && echo "selected $*"; exit 0`})
	log, _, err = ciScript(t, append(env, noBackend...), "select")
	if err != nil || !strings.Contains(log, "selected stack select staging") {
		t.Errorf("a person logged in with pulumi login could not select the stack: %v\n%s", err, log)
	}
}

// The local commands stop at once, saying what to install, when a prerequisite is missing;
// an engine that does not answer cannot make them hang. The scripts see only the tools the
// test gives them: docker, pulumi and go sit in /usr/bin wherever they come from a package
// manager (Docker on GitHub's Ubuntu runners does), so the host's PATH, or /usr/bin, would
// make "not installed" untestable there (TestHostToolsHidesEverythingElse holds hostTools to
// hiding a docker on the host's PATH).
func TestLocalCommandsStopWithoutPrerequisites(t *testing.T) {
	t.Parallel()
	tools := hostTools(t, scriptTools...)
	cases := []struct {
		name  string
		fakes map[string]string
		want  string
	}{
		{"no pulumi", nil, "pulumi is not installed. Install the Pulumi CLI"},
		{"no go", map[string]string{"pulumi": "exit 0"}, "go is not installed. Install Go"},
		// 3.238.0 added --skip-plugin-pre-install, which the local commands pass.
		{"pulumi too old", map[string]string{"pulumi": pulumiCLIOf("v3.237.0"), "go": "exit 0", "docker": dockerEngine}, "the Pulumi CLI is v3.237.0; this project needs Pulumi 3.238 or newer"},
		{"pulumi says no version", map[string]string{"pulumi": pulumiCLIOf(""), "go": "exit 0", "docker": dockerEngine}, "needs Pulumi 3.238 or newer"},
		{"no docker", map[string]string{"pulumi": "exit 0", "go": "exit 0"}, "docker is not installed. Install Docker"},
		{"engine down", map[string]string{"pulumi": "exit 0", "go": "exit 0", "docker": "exit 1"}, "the Docker engine does not answer"},
		{"engine hangs", map[string]string{"pulumi": "exit 0", "go": "exit 0", "docker": "sleep 30"}, "took over 1 s"},
		// The minimum: the frontend built into Docker 20.10 knows everything the Dockerfiles use.
		{"engine too old", map[string]string{"pulumi": "exit 0", "go": "exit 0", "docker": dockerEngineOf("19.03.15")}, "the Docker engine is 19.03.15; this project needs Docker Engine 20.10 or newer"},
		{"engine says no version", map[string]string{"pulumi": "exit 0", "go": "exit 0", "docker": dockerEngineOf("")}, "needs Docker Engine 20.10 or newer"},
		{"podman", map[string]string{"pulumi": "exit 0", "go": "exit 0", "docker": dockerEngineOf("5.2.1")}, "the Docker engine is 5.2.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			bin := t.TempDir()
			for name, body := range c.fakes {
				fakeBin(t, bin, name, body)
			}
			cmd := exec.Command("scripts/local.sh", "up")
			cmd.Env = []string{"PATH=" + bin + ":" + tools, "HOME=" + t.TempDir()}
			if c.name == "engine hangs" {
				// Only here: a fake that answers must never race a short deadline.
				cmd.Env = append(cmd.Env, "SUDOKU_DOCKER_TIMEOUT=1")
			}
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), c.want) {
				t.Errorf("exit %v, output %q; want a failure saying %q", err, out, c.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

// dockerEngineOf is a stand-in docker whose engine answers and says it is version (Docker 20.10
// and later answer `docker version --format '{{.Server.Version}}'` with the engine's version).
func dockerEngineOf(version string) string {
	return `[ "$1" = version ] && echo "` + version + `"; exit 0`
}

// pulumiCLIOf is a stand-in pulumi's answer to `pulumi version`.
func pulumiCLIOf(version string) string {
	return `[ "$1" = version ] && { echo "` + version + `"; exit 0; }`
}

// dockerEngine is a stand-in docker for an engine of the Docker 28 that the first real run used.
var dockerEngine = dockerEngineOf("28.2.2")

// scriptTools are the commands the scripts in scripts/ use besides the ones a test fakes.
var scriptTools = []string{"bash", "cat", "cp", "dirname", "head", "base64", "mkdir", "mktemp", "rm", "sleep", "sort", "timeout", "tr", "grep", "sed", "date", "jq"}

// hostTools is a PATH holding only the named commands of this machine (as symlinks), so that
// a script under test finds exactly those, whatever else the host has installed. Scripts only
// read it, so each set of names (and host PATH) is linked once per test binary.
func hostTools(t *testing.T, names ...string) string {
	t.Helper()
	key := os.Getenv("PATH") + "\x00" + strings.Join(names, "\x00")
	hostToolDirs.Lock()
	defer hostToolDirs.Unlock()
	if dir, ok := hostToolDirs.m[key]; ok {
		return dir
	}
	dir, err := os.MkdirTemp(scratch(t), "tools-")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			t.Fatalf("the scripts need %s, which this machine lacks: %v", n, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	if hostToolDirs.m == nil {
		hostToolDirs.m = map[string]string{}
	}
	hostToolDirs.m[key] = dir
	return dir
}

var hostToolDirs struct {
	sync.Mutex
	m map[string]string
}

func TestHostToolsHidesEverythingElse(t *testing.T) {
	host := t.TempDir()
	fakeBin(t, host, "docker", "exit 0")
	t.Setenv("PATH", host+string(os.PathListSeparator)+os.Getenv("PATH"))
	tools := hostTools(t, "bash")
	cmd := exec.Command(filepath.Join(tools, "bash"), "-c", "command -v docker || command -v ls || echo hidden")
	cmd.Env = []string{"PATH=" + tools}
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hidden" {
		t.Errorf("a command outside the list is visible: %q (%v)", out, err)
	}
}

// After pulumi up, the deploy job checks that ECS runs what it deployed: a rollout the
// circuit breaker rolled back leaves the old revision running, and pulumi up succeeds anyway.
func TestCIVerifyDeployment(t *testing.T) {
	t.Parallel()
	pulumi := `case "$*" in
*clusterName*) echo sudoku-staging ;;
*serviceNames*) echo '{"app": "sudoku-staging-app", "mercure": "sudoku-staging-mercure"}' ;;
*taskDefinitionArns*) echo '{"app": "arn:aws:ecs:eu-central-1:1:task-definition/sudoku-staging-app:5", "mercure": "arn:aws:ecs:eu-central-1:1:task-definition/sudoku-staging-mercure:3"}' ;;
*) exit 2 ;;
esac`
	// The stand-in aws answers describe-services from $SCENARIO_DIR/<service>[.<call>].json,
	// counting calls, so a rollout can be in progress at first.
	aws := `svc=$(echo "$*" | sed 's/.*--services \([^ ]*\).*/\1/')
n=$(cat "$SCENARIO_DIR/$svc.count" 2>/dev/null || echo 0); n=$((n + 1)); echo $n >"$SCENARIO_DIR/$svc.count"
if [ -f "$SCENARIO_DIR/$svc.$n.json" ]; then cat "$SCENARIO_DIR/$svc.$n.json"; else cat "$SCENARIO_DIR/$svc.json"; fi`
	deployment := func(status, rollout, revision string) string {
		return `{"services": [{"deployments": [{"status": "` + status + `", "rolloutState": "` + rollout +
			`", "rolloutStateReason": "ECS deployment circuit breaker: tasks failed to start.", "taskDefinition": "` + revision + `"}]}]}`
	}
	app := func(n int) string {
		return "arn:aws:ecs:eu-central-1:1:task-definition/sudoku-staging-app:" + strconv.Itoa(n)
	}
	hub := deployment("PRIMARY", "COMPLETED", "arn:aws:ecs:eu-central-1:1:task-definition/sudoku-staging-mercure:3")
	cases := []struct {
		name  string
		files map[string]string
		want  string // "" passes
	}{
		{"completed", map[string]string{"sudoku-staging-app.json": deployment("PRIMARY", "COMPLETED", app(5))}, ""},
		{"rolled back", map[string]string{"sudoku-staging-app.json": deployment("PRIMARY", "COMPLETED", app(4))}, "app (sudoku-staging-app): ECS runs " + app(4) + ", but pulumi up deployed " + app(5)},
		{"failed", map[string]string{"sudoku-staging-app.json": deployment("PRIMARY", "FAILED", app(5))}, "is FAILED, not COMPLETED: ECS deployment circuit breaker"},
		{"still rolling out", map[string]string{
			"sudoku-staging-app.1.json": deployment("PRIMARY", "IN_PROGRESS", app(5)),
			"sudoku-staging-app.json":   deployment("PRIMARY", "COMPLETED", app(5)),
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.files["sudoku-staging-mercure.json"] = hub
			for name, content := range c.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			env := append(withFakes(t, map[string]string{"pulumi": pulumi, "aws": aws}), "SCENARIO_DIR="+dir, "SUDOKU_ROLLOUT_PAUSE=0")
			log, _, err := ciScript(t, env, "verify-deployment")
			if c.want == "" && err != nil {
				t.Errorf("a good deployment failed the check: %v\n%s", err, log)
			}
			if c.want != "" && (err == nil || !strings.Contains(log, c.want)) {
				t.Errorf("want a failure saying %q, got %v:\n%s", c.want, err, log)
			}
		})
	}
}

// downTargets are the --target globs `scripts/local.sh down` passes to pulumi destroy.
func downTargets(t *testing.T) []*regexp.Regexp {
	t.Helper()
	args := filepath.Join(t.TempDir(), "args")
	fakes := withFakes(t, map[string]string{
		"pulumi": `[ "$1" = destroy ] && printf '%s\n' "$@" >"` + args + `"; exit 0`,
		"go":     "exit 0",
		"docker": dockerEngine,
	})
	cmd := exec.Command("scripts/local.sh", "down")
	cmd.Env = []string{fakes[0] + ":" + hostTools(t, scriptTools...), "HOME=" + t.TempDir(), "STACK=alice"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/local.sh down: %v\n%s", err, out)
	}
	data, err := os.ReadFile(args)
	if err != nil {
		t.Fatalf("down ran no pulumi destroy: %v", err)
	}
	var globs []*regexp.Regexp
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	for i, a := range lines {
		if a == "--target" && i+1 < len(lines) {
			globs = append(globs, mocks.URNGlob(lines[i+1]))
		}
	}
	return globs
}

// `make down` then `make up` keeps the stack's credentials, as docker compose keeps .env:
// MySQL applies MYSQL_PASSWORD only to a new data directory, so new passwords against the
// kept volume would lock the app out. The stand-in pulumi records what `down` destroys; the
// mock engine then replays `up` on the state the targeted destroy leaves, as the engine
// would (a resource whose inputs are unchanged keeps its outputs).
func TestCredentialsSurviveDownAndUp(t *testing.T) {
	t.Parallel()
	globs := downTargets(t)
	if len(globs) == 0 {
		t.Fatal("down destroys everything: it passes no --target")
	}
	targeted := func(urn string) bool {
		for _, g := range globs {
			if g.MatchString(urn) {
				return true
			}
		}
		return false
	}
	first, err := runStackWith(t, "alice", nil, mocks.Options{Generation: 1})
	if err != nil {
		t.Fatal(err)
	}
	state := first.State()
	// pulumi destroy --target refuses to leave behind what depends on a target.
	for urn := range state {
		if !targeted(urn) {
			continue
		}
		for _, d := range state.Dependents(urn) {
			if !targeted(d) {
				t.Errorf("pulumi destroy would refuse: %s depends on %s, which down destroys", d, urn)
			}
		}
	}
	for urn, r := range state {
		switch r.Type {
		case "docker:index/container:Container", "docker:index/network:Network":
			if !targeted(urn) {
				t.Errorf("down leaves %s running", urn)
			}
		case "docker:index/volume:Volume", "random:index/randomPassword:RandomPassword":
			if targeted(urn) {
				t.Errorf("down destroys %s", urn)
			}
		}
	}
	afterDown, err := runStackWith(t, "alice", nil, mocks.Options{Prior: state.Without(targeted), Generation: 2})
	if err != nil {
		t.Fatal(err)
	}
	afterDestroy, err := runStackWith(t, "alice", nil, mocks.Options{Generation: 2})
	if err != nil {
		t.Fatal(err)
	}
	mysqlPassword := func(run *stackRun) string {
		for _, u := range run.Named("docker:index/container:Container", "db-container").Inputs["uploads"].ArrayValue() {
			if u.ObjectValue()["file"].StringValue() == "/run/secrets/mysql-password" {
				return mocks.Flatten(u.ObjectValue()["content"].Mappable())
			}
		}
		t.Fatal("the MySQL container gets no password file")
		return ""
	}
	if got, want := strings.Join(afterDown.GeneratedSecrets(), ","), strings.Join(first.GeneratedSecrets(), ","); got != want {
		t.Error("down then up generated new credentials")
	}
	if mysqlPassword(afterDown) != mysqlPassword(first) || afterDown.outputs["databaseUrl"] != first.outputs["databaseUrl"] {
		t.Error("after down and up, MySQL and the app get another password than the data volume was created with")
	}
	if afterDown.Named("docker:index/volume:Volume", "db-data").Op() != "same" {
		t.Error("down and up touched the data volume")
	}
	// What `make destroy` does instead (and deletes the volumes with it): new credentials.
	if mysqlPassword(afterDestroy) == mysqlPassword(first) {
		t.Error("the model is broken: a destroyed stack came back with the same password")
	}
}

// `make up` ends by asking the app, through the proxy, whether MySQL and Redis let it in:
// healthy containers are not enough when the credentials and the data disagree. The check is
// the real cmd/smoke; the stack is a stand-in that answers as a stack whose MySQL refuses.
func TestUpFailsWhenMySQLRefusesTheApp(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status": "degraded", "database": {"ok": false, "reason": "access-denied"}, "redis": {"ok": true}}`))
	}))
	defer srv.Close()
	out, err := localUp(t, map[string]string{"pulumi": fakeStackOutputs(srv.URL), "docker": dockerEngine}, "go")
	if err == nil || !strings.Contains(out, "MySQL refuses the app's credentials") {
		t.Errorf("make up did not fail saying MySQL refuses the app's credentials: %v\n%s", err, out)
	}
}

// `make up` hands cmd/smoke the stack's outputs, the hub's JWT keys among them, through a
// pipe: never on a command line, never on the terminal.
func TestUpGivesTheSmokeCheckTheHubKeys(t *testing.T) {
	t.Parallel()
	record := filepath.Join(t.TempDir(), "smoke-call")
	goFake := `{ echo "args: $*"; cat; } >` + record
	out, err := localUp(t, map[string]string{"pulumi": fakeStackOutputs("http://localhost:8080"), "docker": dockerEngine, "go": goFake})
	if err != nil {
		t.Fatalf("make up: %v\n%s", err, out)
	}
	call, _ := os.ReadFile(record)
	want := "args: run ./cmd/smoke -outputs -\n" + `{"url": "http://localhost:8080", "mercurePublisherJwtKey": "the-publisher-key", "mercureSubscriberJwtKey": "the-subscriber-key"}` + "\n"
	if string(call) != want {
		t.Errorf("the smoke check was run as\n%s\nwant\n%s", call, want)
	}
	if strings.Contains(out, "the-publisher-key") || strings.Contains(out, "the-subscriber-key") {
		t.Errorf("make up printed a hub key:\n%s", out)
	}
}

// fakeStackOutputs is a stand-in pulumi whose local stack has url and the hub's keys as
// outputs; the keys only with --show-secrets, as Pulumi shows secret outputs.
func fakeStackOutputs(url string) string {
	return `case "$*" in
*"stack output"*"--json --show-secrets"*) echo '{"url": "` + url + `", "mercurePublisherJwtKey": "the-publisher-key", "mercureSubscriberJwtKey": "the-subscriber-key"}' ;;
*"stack output"*"--json"*) echo '{"url": "` + url + `", "mercurePublisherJwtKey": "[secret]", "mercureSubscriberJwtKey": "[secret]"}' ;;
esac
exit 0`
}

// localUp runs scripts/local.sh up with fakes for the named tools, the host's for the
// script's other tools and for those named in host.
func localUp(t *testing.T, fakes map[string]string, host ...string) (string, error) {
	t.Helper()
	path := withFakes(t, fakes)
	cmd := exec.Command("scripts/local.sh", "up")
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "PATH=") && !strings.HasPrefix(e, "PULUMI_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, path[0]+":"+hostTools(t, append(scriptTools, host...)...), "XDG_CONFIG_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The guard's findings go into the preview comment pulumi/actions wrote, and nowhere else:
// not into a comment someone else wrote with the same heading, nor into another stack's.
func TestCIAnnotateCommentEditsOnlyThePreviewComment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	comment := func(id int, login, body string) string {
		return `{"id": ` + strconv.Itoa(id) + `, "user": {"login": "` + login + `"}, "body": ` + strconv.Quote(body) + `}`
	}
	report := "\n\n<details>\n<summary>Pulumi report</summary>\n...\n</details>"
	page := "[" + strings.Join([]string{
		comment(1, "github-actions[bot]", "#### :tropical_drink: `preview` on sudoku/staging"+report),
		comment(2, "mallory", "#### :tropical_drink: `preview` on sudoku/staging"+report),
		comment(3, "github-actions[bot]", "#### :tropical_drink: `preview` on sudoku/staging2"+report),
		comment(4, "github-actions[bot]", "#### :tropical_drink: `preview` on other/staging"+report),
	}, ",") + "]"
	if err := os.WriteFile(filepath.Join(dir, "comments.json"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	findings := filepath.Join(dir, "guard.md")
	if err := os.WriteFile(findings, []byte("### guard findings\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gh := `case "$*" in
*"-X PATCH"*) echo "$4" >>"` + dir + `/patched" ;;
*comments*) cat "` + dir + `/comments.json" ;;
esac`
	env := append(withFakes(t, map[string]string{"gh": gh}), "PR_NUMBER=7", "GITHUB_REPOSITORY=org/repo", "PULUMI_STACK=staging")
	// ciScript points RUNNER_TEMP at its own directory: put the findings there.
	log, _, err := ciScriptWithFindings(t, env, findings, "annotate-comment")
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	patched, _ := os.ReadFile(filepath.Join(dir, "patched"))
	if got := strings.TrimSpace(string(patched)); got != "repos/org/repo/issues/comments/1" {
		t.Errorf("edited %q; want exactly comment 1, pulumi/actions' preview of sudoku/staging by github-actions[bot]", got)
	}
}

// Production waits while a staging deployment of its commit is queued or running.
func TestCIWaitForStaging(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The stand-in gh reports run 42 in progress twice, then none.
	gh := `n=$(cat "` + dir + `/n" 2>/dev/null || echo 0); n=$((n + 1)); echo $n >"` + dir + `/n"
[ "$n" -le 2 ] && echo 42; exit 0`
	env := append(withFakes(t, map[string]string{"gh": gh}), "GITHUB_REPOSITORY=org/repo", "GITHUB_SHA=abc123", "SUDOKU_WAIT_PAUSE=0")
	log, _, err := ciScript(t, env, "wait-for-staging")
	if err != nil || !strings.Contains(log, "Waiting for the staging deployment of abc123 (run 42)") || !strings.Contains(log, "No staging deployment of abc123 is in flight") {
		t.Errorf("%v\n%s", err, log)
	}
	if n, _ := os.ReadFile(filepath.Join(dir, "n")); strings.TrimSpace(string(n)) != "3" {
		t.Errorf("asked %s times, want 3", n)
	}
	stuck := append(withFakes(t, map[string]string{"gh": "echo 42"}), "GITHUB_REPOSITORY=org/repo", "GITHUB_SHA=abc123", "SUDOKU_WAIT_PAUSE=0", "SUDOKU_WAIT_MINUTES=0")
	if log, _, err := ciScript(t, stuck, "wait-for-staging"); err == nil || !strings.Contains(log, "still running (42)") {
		t.Errorf("a staging deployment that never ends: %v\n%s", err, log)
	}
}

// fakeECR is a stand-in aws for ECR's image calls, answering as the API does, over
// repositories kept in dir (dir/<repository>/<digest>, and dir/<repository>/tag-<tag> holding
// the digest it names): batch-get-image lists what it finds and reports no error for a tag it
// lacks; put-image of a tag the image has fails with ImageAlreadyExistsException, of a tag
// another image has with ImageTagAlreadyExistsException (immutable tags). With dir/pull-only
// (an account that may only pull, ecrReaderAccounts) everything but batch-get-image is denied.
// Each call is logged to dir/calls.
func fakeECR(dir string) string {
	return `echo "$*" >>` + dir + `/calls
op=$2; shift 2
repo= id= tag= manifest=
while [ $# -gt 0 ]; do
	case "$1" in
	--repository-name) repo=$2; shift ;;
	--image-ids) id=$2; shift ;;
	--image-tag) tag=$2; shift ;;
	--image-manifest) manifest=$2; shift ;;
	esac
	shift
done
denied() { echo "An error occurred (AccessDeniedException) when calling the $1 operation: not authorized" >&2; exit 254; }
case "$op" in
get-caller-identity) echo 123456789012; exit 0 ;;
batch-get-image) ;;
*) [ -e ` + dir + `/pull-only ] && denied "$op" ;;
esac
r=` + dir + `/$repo
case "$op" in
batch-get-image)
	case "$id" in
	imageTag=*) d=$(cat "$r/tag-${id#imageTag=}" 2>/dev/null) ;;
	imageDigest=*) d=${id#imageDigest=}; [ -e "$r/$d" ] || d= ;;
	esac
	if [ -n "$d" ]; then
		echo '{"images": [{"imageId": {"imageDigest": "'"$d"'"}, "imageManifest": "{\"digest\": \"'"$d"'\"}", "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json"}], "failures": []}'
	else
		echo '{"images": [], "failures": [{"failureCode": "ImageNotFound", "failureReason": "Requested image not found"}]}'
	fi ;;
put-image)
	d=$(echo "$manifest" | sed 's/.*"digest": "\([^"]*\)".*/\1/')
	if [ -e "$r/tag-$tag" ]; then
		if [ "$(cat "$r/tag-$tag")" = "$d" ]; then
			echo "An error occurred (ImageAlreadyExistsException) when calling the PutImage operation" >&2
		else
			echo "An error occurred (ImageTagAlreadyExistsException) when calling the PutImage operation" >&2
		fi
		exit 254
	fi
	echo "$d" >"$r/tag-$tag" ;;
*) echo "fakeECR: no $op" >&2; exit 1 ;;
esac`
}

// ecrRepository creates repository in a fakeECR's dir with images of the given digests.
func ecrRepository(t *testing.T, dir, repository string, digests ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, repository), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range digests {
		if err := os.WriteFile(filepath.Join(dir, repository, d), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A staging deployment, once ECS runs it, tags the images it deployed deployed-<commit>; a
// re-run changes nothing. Production then promotes exactly the images its commit deployed,
// whatever staging runs by then, with nothing but BatchGetImage (so an account that may only
// pull can); it refuses a commit staging never deployed, and a re-run does the same again.
func TestCIPromote(t *testing.T) {
	t.Parallel()
	const registry = "123456789012.dkr.ecr.eu-central-1.amazonaws.com"
	sha, later := "0123456789abcdef0123456789abcdef01234567", "fedcba9876543210fedcba9876543210fedcba98"
	digest := func(c string) string { return "sha256:" + strings.Repeat(c, 64) }
	app, hub := registry+"/sudoku-staging-app@"+digest("a"), registry+"/sudoku-staging-mercure@"+digest("b")
	newApp := registry + "/sudoku-staging-app@" + digest("c")
	ecr := t.TempDir()
	ecrRepository(t, ecr, "sudoku-staging-app", digest("a"), digest("c"))
	ecrRepository(t, ecr, "sudoku-staging-mercure", digest("b"))
	script := func(t *testing.T, command string, extra ...string) (string, string, error) {
		t.Helper()
		dir := t.TempDir()
		runs := app // what staging runs now
		for _, e := range extra {
			if v, ok := strings.CutPrefix(e, "STAGING_RUNS="); ok {
				runs = v
			}
		}
		pulumi := `case "$*" in
*"output imageRefs"*) echo '{"app": "` + runs + `", "mercure": "` + hub + `"}' ;;
"config set"*) echo "$*" >>"` + dir + `/config" ;;
esac`
		env := append(withFakes(t, map[string]string{"pulumi": pulumi, "aws": fakeECR(ecr)}), extra...)
		log, _, err := ciScript(t, env, command)
		config, _ := os.ReadFile(filepath.Join(dir, "config"))
		return log, string(config), err
	}
	promote := func(t *testing.T, stackFile string, extra ...string) (string, string, error) {
		t.Helper()
		// The script reads Pulumi.<stack>.yaml from the checkout: a stack of the test's own.
		stack := "promote-test-" + strconv.Itoa(os.Getpid())
		file := "Pulumi." + stack + ".yaml"
		if err := os.WriteFile(file, []byte(stackFile), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(file) })
		return script(t, "promote", append([]string{"PULUMI_STACK=" + stack}, extra...)...)
	}
	// The staging deployment of sha records what it deployed, twice (a re-run).
	for range 2 {
		if log, _, err := script(t, "record-deployment", "PULUMI_STACK=staging", "GITHUB_SHA="+sha); err != nil {
			t.Fatalf("record-deployment: %v\n%s", err, log)
		}
	}
	// main moves on: staging deploys another commit, with a new app image.
	if log, _, err := script(t, "record-deployment", "PULUMI_STACK=staging", "GITHUB_SHA="+later, "STAGING_RUNS="+newApp); err != nil {
		t.Fatalf("record-deployment of the later commit: %v\n%s", err, log)
	}
	if err := os.WriteFile(filepath.Join(ecr, "pull-only"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("the images its commit deployed, twice", func(t *testing.T) {
		for range 2 {
			log, config, err := promote(t, "config:\n  sudoku:tier: production\n", "GITHUB_SHA="+sha, "STAGING_REGISTRY="+registry, "STAGING_RUNS="+newApp)
			if err != nil {
				t.Fatalf("%v\n%s", err, log)
			}
			if !strings.Contains(config, "sudoku:appImage "+app) || !strings.Contains(config, "sudoku:mercureImage "+hub) {
				t.Errorf("promoted\n%s\nwant the images %s deployed: %s and %s", config, sha, app, hub)
			}
		}
	})
	t.Run("the registry of these credentials by default", func(t *testing.T) {
		if log, config, err := promote(t, "config: {}\n", "GITHUB_SHA="+later); err != nil || !strings.Contains(config, "sudoku:appImage "+newApp) {
			t.Errorf("%v\n%s\n%s", err, log, config)
		}
	})
	t.Run("a commit staging never deployed", func(t *testing.T) {
		log, config, err := promote(t, "config: {}\n", "GITHUB_SHA="+strings.Repeat("9", 40))
		if err == nil || !strings.Contains(log, "staging has not deployed "+strings.Repeat("9", 40)) || config != "" {
			t.Errorf("promoted a commit staging did not deploy: %v\n%s\n%s", err, log, config)
		}
	})
	t.Run("rollback", func(t *testing.T) {
		log, config, err := promote(t, "config: {}\n", "GITHUB_SHA="+later, "APP_IMAGE="+app, "MERCURE_IMAGE="+hub)
		if err != nil || !strings.Contains(config, "sudoku:appImage "+app) {
			t.Errorf("%v\n%s\n%s", err, log, config)
		}
		if log, _, err := promote(t, "config: {}\n", "APP_IMAGE="+app); err == nil || !strings.Contains(log, "names both images") {
			t.Errorf("a rollback of one image: %v\n%s", err, log)
		}
		gone := registry + "/sudoku-staging-app@" + digest("d")
		if log, _, err := promote(t, "config: {}\n", "APP_IMAGE="+gone, "MERCURE_IMAGE="+hub); err == nil || !strings.Contains(log, "no image "+digest("d")+" to roll back to") {
			t.Errorf("a rollback to an image the repository lacks: %v\n%s", err, log)
		}
	})
	t.Run("placeholders", func(t *testing.T) {
		log, config, err := promote(t, "config:\n  sudoku:domainName: sudoku.example.com # REPLACE\n", "GITHUB_SHA="+sha)
		if err == nil || !strings.Contains(log, "still has placeholders") || config != "" {
			t.Errorf("deployed with placeholders: %v\n%s", err, log)
		}
	})
	calls, _ := os.ReadFile(filepath.Join(ecr, "calls"))
	if strings.Count(string(calls), "put-image") != 4 {
		t.Errorf("want 4 put-image calls (two commits' tags on two repositories, none on a re-run or a promotion):\n%s", calls)
	}
}

// The committed production stack file has placeholders, and promotion refuses it until a
// team replaces them.
func TestProductionStackFileMarksItsPlaceholders(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("Pulumi.production.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"sudoku:domainName", "sudoku:hostedZoneId", "sudoku:alarmEmails"} {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, key+":") && !strings.Contains(line, "# REPLACE") {
				t.Errorf("%s is not marked REPLACE: %s", key, line)
			}
		}
	}
}

// Every command the Makefile declares (.PHONY) is one `make help` lists: a target the help's
// pattern does not match (e2e, with its digits, once) is a command nobody finds.
func TestMakeHelpListsEveryCommand(t *testing.T) {
	t.Parallel()
	makefile, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	phony := regexp.MustCompile(`(?m)^\.PHONY:(.*)$`).FindSubmatch(makefile)
	if phony == nil {
		t.Fatal("the Makefile declares no .PHONY targets")
	}
	out, err := exec.Command("make", "--no-print-directory", "help").CombinedOutput()
	if err != nil {
		t.Fatalf("make help: %v\n%s", err, out)
	}
	for _, target := range strings.Fields(string(phony[1])) {
		if !regexp.MustCompile(`(?m)^\s*make ` + regexp.QuoteMeta(target) + `\s`).Match(out) {
			t.Errorf("make help does not list %q:\n%s", target, out)
		}
	}
}

// `make destroy` removes the stack's images by reference, the names the program gives them,
// so that another local stack built from the same files (same image IDs) keeps its own tags
// and its running containers. Docker only untags an image removed by one of several tags, and
// refuses to remove, even with -f, an image by ID that a running container uses (seen on
// Docker 20.10: "image is being used by running container"; on Docker 28 the other stack's
// tags went first).
func TestDestroyRemovesTheStacksImagesByReference(t *testing.T) {
	t.Parallel()
	var want []string
	for _, image := range mustRun(t, "alice", nil).OfType("docker:index/image:Image") {
		want = append(want, "image rm "+image.Inputs["imageName"].StringValue())
	}
	dir := t.TempDir()
	out, err := localScript(t, "destroy", map[string]string{
		"pulumi": "exit 0",
		"go":     "exit 0",
		"docker": `echo "$*" >>` + dir + `/docker.log
case "$*" in
"image ls -q "*) echo 0123456789ab ;;
version*) echo 28.2.2 ;;
esac
exit 0`,
	}, "STACK=alice")
	if err != nil {
		t.Fatalf("destroy: %v\n%s", err, out)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "docker.log"))
	var removed []string
	for _, call := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		if strings.HasPrefix(call, "image rm") || strings.HasPrefix(call, "rmi") {
			removed = append(removed, call)
		}
	}
	if strings.Join(sorted(removed), "\n") != strings.Join(sorted(want), "\n") {
		t.Errorf("destroy removed\n%s\nwant, by reference and without -f, the program's images\n%s",
			strings.Join(removed, "\n"), strings.Join(want, "\n"))
	}
}

// localScript runs scripts/local.sh action with stand-ins for the named commands.
func localScript(t *testing.T, action string, fakes map[string]string, env ...string) (string, error) {
	t.Helper()
	path := withFakes(t, fakes)
	cmd := exec.Command("scripts/local.sh", action)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "PATH=") && !strings.HasPrefix(e, "PULUMI_") && !strings.HasPrefix(e, "STACK=") &&
			!strings.HasPrefix(e, "GOFLAGS=") && !strings.HasPrefix(e, "SUDOKU_FULL_BUILD=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, path[0]+":"+hostTools(t, scriptTools...), "XDG_CONFIG_HOME="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
