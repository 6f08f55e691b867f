package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Drift detection (docs/drift-detection.md): scripts/drift.sh with stand-ins for pulumi and
// gh, the real cmd/driftreport, and the workflow that runs it.

// refreshPreview is cmd/driftreport's fixture (a refresh preview of staging that drifted),
// changed by edit: its steps and summary as JSON values.
func refreshPreview(t *testing.T, edit func(steps []map[string]any) []map[string]any) string {
	t.Helper()
	data, err := os.ReadFile("cmd/driftreport/testdata/drift.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Steps []map[string]any `json:"steps"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	steps := doc.Steps
	if edit != nil {
		steps = edit(steps)
	}
	// The summary counts each step's result, as the engine does.
	summary := map[string]int{}
	for _, s := range steps {
		op := s["op"].(string)
		if op == "refresh" {
			op = "same"
		}
		summary[op]++
	}
	out, err := json.Marshal(map[string]any{"steps": steps, "changeSummary": summary})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// cleanSteps keeps the resources that match the cloud, and the app's service, whose task
// count auto scaling changed (not drift).
func cleanSteps(steps []map[string]any) []map[string]any {
	var kept []map[string]any
	for _, s := range steps {
		if s["op"] == "refresh" || strings.HasSuffix(s["urn"].(string), "::app-service") {
			kept = append(kept, s)
		}
	}
	return kept
}

// fakeGh is a stand-in gh that answers `issue list` with dir/open.json and `label list` with
// dir/labels.json, and records each call (dir/calls) and everything it receives: arguments
// and the files named by --body-file (dir/received).
func fakeGh(dir string) string {
	return `echo "$*" >>"` + dir + `/calls"
prev=
for a in "$@"; do
	echo "$a" >>"` + dir + `/received"
	[ "$prev" = --body-file ] && cat "$a" >>"` + dir + `/received"
	prev=$a
done
case "$1 $2" in
"issue list") cat "` + dir + `/open.json" ;;
"label list") cat "` + dir + `/labels.json" ;;
"issue create") echo "https://github.com/org/repo/issues/12" ;;
"issue edit" | "issue close" | "issue comment" | "label create") ;;
*) echo "fake gh: unexpected call: $*" >&2; exit 1 ;;
esac`
}

type driftScenario struct {
	stack      string // the argument of check; default staging
	refresh    string // what pulumi prints
	pulumiExit int
	open       string // the open issues gh lists (JSON); default none
}

type driftResult struct {
	log, summary, received, pulumiArgs string
	calls                              []string
	err                                error
}

// issueChanges are the calls that change an issue.
func (r driftResult) issueChanges() []string {
	var out []string
	for _, c := range r.calls {
		for _, verb := range []string{"issue create", "issue edit", "issue close", "issue comment", "issue reopen", "issue delete"} {
			if strings.HasPrefix(c, verb) {
				out = append(out, c)
			}
		}
	}
	return out
}

func runDrift(t *testing.T, s driftScenario) driftResult {
	t.Helper()
	dir := t.TempDir()
	if s.stack == "" {
		s.stack = "staging"
	}
	if s.open == "" {
		s.open = "[]"
	}
	files := map[string]string{"refresh.json": s.refresh, "open.json": s.open, "labels.json": `[{"name": "drift-alerts"}]`}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pulumi := fmt.Sprintf(`echo "$*" >"%s/pulumi-args"; cat "%s/refresh.json"; exit %d`, dir, dir, s.pulumiExit)
	env := append(withFakes(t, map[string]string{"pulumi": pulumi, "gh": fakeGh(dir)}),
		"SUDOKU_TOOLS="+builtTools(t), "GITHUB_REPOSITORY=org/repo", "GITHUB_RUN_ID=4242", "GITHUB_SERVER_URL=https://github.com")
	log, _, summary, err := runScript(t, "scripts/drift.sh", env, "", "check", s.stack)
	read := func(name string) string {
		data, _ := os.ReadFile(filepath.Join(dir, name))
		return string(data)
	}
	r := driftResult{log: log, summary: summary, received: read("received"), pulumiArgs: read("pulumi-args"), err: err}
	if calls := strings.TrimSpace(read("calls")); calls != "" {
		r.calls = strings.Split(calls, "\n")
	}
	return r
}

const openStagingIssue = `[{"number": 7, "title": "Drift: stack staging"}]`

func TestDriftCheckWhenClean(t *testing.T) {
	t.Parallel()
	clean := refreshPreview(t, cleanSteps)
	t.Run("no issue open", func(t *testing.T) {
		t.Parallel()
		r := runDrift(t, driftScenario{refresh: clean})
		if r.err != nil {
			t.Fatalf("a clean stack failed the check: %v\n%s", r.err, r.log)
		}
		if changes := r.issueChanges(); len(changes) != 0 {
			t.Errorf("a clean stack changed issues: %q", changes)
		}
		if !strings.Contains(r.summary, "### :white_check_mark: No drift in stack staging") {
			t.Errorf("the job summary lacks the report:\n%s", r.summary)
		}
	})
	t.Run("the stack's issue is open", func(t *testing.T) {
		t.Parallel()
		r := runDrift(t, driftScenario{refresh: clean, open: openStagingIssue})
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.log)
		}
		changes := r.issueChanges()
		if len(changes) != 1 || !strings.HasPrefix(changes[0], "issue close 7 ") || !strings.Contains(changes[0], "--comment No drift any more: staging matches the cloud again") {
			t.Errorf("want issue 7 closed with a comment, and nothing else; gh got %q", changes)
		}
	})
	t.Run("two issues with the stack's title are open", func(t *testing.T) {
		t.Parallel()
		r := runDrift(t, driftScenario{refresh: clean, open: `[{"number": 9, "title": "Drift: stack staging"}, {"number": 7, "title": "Drift: stack staging"}, {"number": 8, "title": "Drift: stack staging-eu"}]`})
		changes := r.issueChanges()
		if r.err != nil || len(changes) != 2 || !strings.HasPrefix(changes[0], "issue close 9 ") || !strings.HasPrefix(changes[1], "issue close 7 ") {
			t.Errorf("want issues 9 and 7 closed, not 8; gh got %q (%v)\n%s", changes, r.err, r.log)
		}
	})
}

func TestDriftCheckWhenDrifted(t *testing.T) {
	t.Parallel()
	drifted := refreshPreview(t, nil)
	cases := []struct {
		name, open string
		want       string // the one issue change: a prefix of gh's arguments
	}{
		{"no issue open", "", "issue create --repo org/repo --title Drift: stack staging --label drift --body-file "},
		{"the stack's issue is open", openStagingIssue, "issue edit 7 --repo org/repo --body-file "},
		// GitHub's search matches words: only the exact title is the stack's issue.
		{"another stack's issue is open", `[{"number": 8, "title": "Drift: stack staging-eu"}]`, "issue create "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := runDrift(t, driftScenario{refresh: drifted, open: c.open})
			if exitCode(r.err) != 2 {
				t.Errorf("exit %d, want 2 (drift)\n%s", exitCode(r.err), r.log)
			}
			changes := r.issueChanges()
			if len(changes) != 1 || !strings.HasPrefix(changes[0], c.want) {
				t.Fatalf("gh got %q; want exactly one %q", changes, c.want)
			}
			// The issue holds the report.
			for _, want := range []string{"### :warning: Drift in stack staging", "db-from-app-in", "| `cidrIpv4` | added in the cloud |", "[run 4242](https://github.com/org/repo/actions/runs/4242)"} {
				if !strings.Contains(r.received, want) {
					t.Errorf("the issue lacks %q:\n%s", want, r.received)
				}
			}
			if !strings.Contains(r.summary, "### :warning: Drift in stack staging") {
				t.Errorf("the job summary lacks the report:\n%s", r.summary)
			}
			created := strings.HasPrefix(changes[0], "issue create")
			if labelled := slices.Contains(r.calls, "label create drift --repo org/repo --color D93F0B --description A stack differs from the cloud (docs/drift-detection.md)"); labelled != created {
				t.Errorf("created an issue: %v, created the missing label drift: %v; calls %q", created, labelled, r.calls)
			}
		})
	}
}

// Nothing secret reaches gh, the job summary or the log, even a secret a provider read back in
// plain text.
func TestDriftCheckKeepsSecretsOutOfIssues(t *testing.T) {
	t.Parallel()
	const plaintext = "s3cr3t-app-kernel-value"
	refresh := refreshPreview(t, func(steps []map[string]any) []map[string]any {
		for _, s := range steps {
			if strings.HasSuffix(s["urn"].(string), "::app-secret-value") {
				s["newState"].(map[string]any)["inputs"].(map[string]any)["secretString"] = plaintext
			}
		}
		return steps
	})
	for _, open := range []string{"", openStagingIssue} {
		r := runDrift(t, driftScenario{refresh: refresh, open: open})
		if exitCode(r.err) != 2 || len(r.issueChanges()) != 1 {
			t.Fatalf("exit %d, issue changes %q\n%s", exitCode(r.err), r.issueChanges(), r.log)
		}
		if !strings.Contains(r.received, "| `secretString` | changed | `[secret]` | `[secret]` |") {
			t.Errorf("the issue does not list the secret as [secret]:\n%s", r.received)
		}
		for what, text := range map[string]string{"gh": r.received, "the job summary": r.summary, "the log": r.log} {
			if strings.Contains(text, plaintext) {
				t.Errorf("%s got the secret:\n%s", what, text)
			}
		}
	}
}

// A check that could not look is a failure that says why, and leaves the issue alone.
func TestDriftCheckFailures(t *testing.T) {
	t.Parallel()
	failed := refreshPreview(t, nil)
	failed = strings.Replace(failed, `{"changeSummary"`, `{"diagnostics": [{"message": "error: reading ECS Service (app-service-5d7f41b): AccessDeniedException: not authorized", "severity": "error"}], "changeSummary"`, 1)
	cases := []struct {
		name string
		s    driftScenario
		want string
	}{
		{"pulumi fails", driftScenario{refresh: failed, pulumiExit: 255, open: openStagingIssue},
			"pulumi refresh --preview-only of staging failed (exit 255): error: reading ECS Service (app-service-5d7f41b): AccessDeniedException: not authorized. Nothing was checked"},
		{"pulumi prints no preview", driftScenario{refresh: "error: no stack named 'staging' found", pulumiExit: 255, open: openStagingIssue},
			"pulumi refresh --preview-only of staging failed (exit 255). Nothing was checked"},
		{"the preview cannot be read", driftScenario{refresh: `{"steps": []}`, open: openStagingIssue},
			"cmd/driftreport could not read the refresh preview of staging (exit 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := runDrift(t, c.s)
			if exitCode(r.err) != 1 || !strings.Contains(r.log, c.want) {
				t.Errorf("exit %d; want 1 and a message saying %q:\n%s", exitCode(r.err), c.want, r.log)
			}
			if len(r.calls) != 0 {
				t.Errorf("gh was called: %q", r.calls)
			}
		})
	}
}

// The refresh is read-only: a preview, never one that applies, in JSON, without prompts, from
// the state alone; and the stack is the backend's name for it (<org>/<stack> on Pulumi
// Cloud), the issue the stack's.
func TestDriftCheckRunsAReadOnlyRefresh(t *testing.T) {
	t.Parallel()
	r := runDrift(t, driftScenario{stack: "acme/production", refresh: refreshPreview(t, nil)})
	args := " " + strings.TrimSpace(r.pulumiArgs) + " "
	for _, want := range []string{" refresh ", " --preview-only ", " --json ", " --non-interactive ", " --run-program=false ", " --stack acme/production "} {
		if !strings.Contains(args, want) {
			t.Errorf("pulumi%s lacks %q", args, want)
		}
	}
	for _, never := range []string{" --yes ", " -y ", " --skip-preview ", " -f ", " up ", " --clear-pending-creates "} {
		if strings.Contains(args, never) {
			t.Errorf("pulumi%s has %q", args, never)
		}
	}
	if changes := r.issueChanges(); len(changes) != 1 || !strings.Contains(changes[0], "--title Drift: stack production ") {
		t.Errorf("want the issue of stack production; gh got %q", changes)
	}
}

// What cmd/driftreport takes for granted is what the program leaves to AWS: its IgnoreChanges
// options, in staging and production, and nothing else.
func TestDriftExpectsWhatTheProgramLeavesToAWS(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(filepath.Join(builtTools(t), "driftreport"), "-expected").Output()
	if err != nil {
		t.Fatal(err)
	}
	var expected []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, "\t", 4)
		if len(f) != 4 || f[3] == "" {
			t.Fatalf("driftreport -expected: %q is not TYPE, NAME, PATH and why", line)
		}
		expected = append(expected, strings.Join(f[:3], " "))
	}
	program := map[string]bool{}
	// Production as the release workflow deploys it: with the images staging runs.
	for _, run := range []*stackRun{mustRun(t, "staging", nil), production(t, nil)} {
		for _, r := range run.Resources() {
			for _, p := range r.IgnoreChanges {
				program[r.Type+" "+r.Name+" "+p] = true
			}
		}
	}
	var leaves []string
	for k := range program {
		leaves = append(leaves, k)
	}
	slices.Sort(leaves)
	slices.Sort(expected)
	if !slices.Equal(leaves, expected) {
		t.Errorf("the program leaves to AWS\n%s\nbut cmd/driftreport expects changes to\n%s\n(update handedToAWS in cmd/driftreport/drift.go)",
			strings.Join(leaves, "\n"), strings.Join(expected, "\n"))
	}
}

// driftWorkflow is the part of .github/workflows/drift.yml the test reads.
type driftWorkflow struct {
	On          map[string]any    `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]struct {
		Environment string            `yaml:"environment"`
		Permissions map[string]string `yaml:"permissions"`
		Concurrency struct {
			Group            string `yaml:"group"`
			CancelInProgress bool   `yaml:"cancel-in-progress"`
		} `yaml:"concurrency"`
		Strategy struct {
			Matrix struct {
				Stack []string `yaml:"stack"`
			} `yaml:"matrix"`
		} `yaml:"strategy"`
	} `yaml:"jobs"`
}

// The drift workflow runs nightly and by hand, over both AWS stacks, one check of a stack at a
// time, in the preview environment with the read-only role (never the deploy role), with no
// permission beyond reading the code, the OIDC token and issues, and actions pinned by SHA.
func TestDriftWorkflow(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(".github/workflows/drift.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf driftWorkflow
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatal(err)
	}
	schedule, _ := wf.On["schedule"].([]any)
	if _, manual := wf.On["workflow_dispatch"]; !manual || len(schedule) != 1 || len(wf.On) != 2 {
		t.Errorf("triggers %v; want a schedule and workflow_dispatch, nothing else", wf.On)
	} else if cron, _ := schedule[0].(map[string]any)["cron"].(string); len(strings.Fields(cron)) != 5 || strings.Fields(cron)[2] != "*" || strings.Fields(cron)[4] != "*" {
		t.Errorf("schedule %q: want a daily cron", cron)
	}
	if len(wf.Permissions) != 0 {
		t.Errorf("workflow permissions %v; want {} (each job says what it needs)", wf.Permissions)
	}
	job, ok := wf.Jobs["drift"]
	if !ok || len(wf.Jobs) != 1 {
		t.Fatalf("jobs %v; want one job, drift", wf.Jobs)
	}
	if want := map[string]string{"contents": "read", "id-token": "write", "issues": "write"}; !maps.Equal(job.Permissions, want) {
		t.Errorf("job permissions %v; want exactly %v", job.Permissions, want)
	}
	if job.Environment != "preview" {
		t.Errorf("environment %q; want preview, where the read-only role lives", job.Environment)
	}
	if got := job.Strategy.Matrix.Stack; !slices.Equal(got, []string{"staging", "production"}) {
		t.Errorf("matrix %v; want staging and production", got)
	}
	if !strings.Contains(job.Concurrency.Group, "${{ matrix.stack }}") || job.Concurrency.CancelInProgress {
		t.Errorf("concurrency %+v: want a group per stack that does not cancel a running check", job.Concurrency)
	}
	text := string(data)
	for _, role := range []string{"AWS_DEPLOY_ROLE_ARN", "AWS_E2E_ROLE_ARN"} {
		if strings.Contains(text, role) {
			t.Errorf("the drift workflow names %s: it must only read", role)
		}
	}
	steps := readJob(t, "drift.yml", "drift").Steps
	var role, cli string
	checks := 0
	for _, st := range steps {
		switch {
		case strings.HasPrefix(st.Uses, "aws-actions/configure-aws-credentials@"):
			role = st.With["role-to-assume"]
		case strings.HasPrefix(st.Uses, "pulumi/actions@"):
			cli = st.With["pulumi-version"]
		case strings.HasPrefix(st.Run, "scripts/drift.sh check "):
			checks++
		}
	}
	if !strings.Contains(role, "vars.AWS_PREVIEW_ROLE_ARN") {
		t.Errorf("role-to-assume %q; want the preview role, vars.AWS_PREVIEW_ROLE_ARN", role)
	}
	if cli != "3.274.1" || checks != 1 {
		t.Errorf("pulumi-version %q, %d steps running scripts/drift.sh check; want 3.274.1 and one", cli, checks)
	}
	pinned := 0
	for i, line := range strings.Split(text, "\n") {
		m := usesLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		action, sha, _ := strings.Cut(m[1], "@")
		if tag, known := verifiedActions[action][sha]; !fullSHA.MatchString(sha) || !known || m[2] != tag {
			t.Errorf("drift.yml:%d: %s is not pinned to a verified SHA with its tag as the comment", i+1, m[1])
		}
		pinned++
	}
	if pinned == 0 {
		t.Error("no `uses:` lines found")
	}
}
