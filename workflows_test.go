package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// verifiedActions are the action versions the workflows may use: each SHA was read from the
// action's own repository (git rev-parse '<tag>^{commit}' on a clone), and its action.yml at
// that tag runs on node24. GitHub made node24 the runners' default in June 2026 and removed
// node20 on 16 September 2026
// (https://github.blog/changelog/2025-09-19-deprecation-of-node-20-on-github-actions-runners/),
// so an action whose action.yml says `using: node20` no longer runs as it was written.
// To move an action: check the new tag's SHA and action.yml in its repository, then add it here.
var verifiedActions = map[string]map[string]string{
	"actions/checkout": {
		"3d3c42e5aac5ba805825da76410c181273ba90b1": "v7.0.1",
	},
	"actions/setup-go": {
		"b7ad1dad31e06c5925ef5d2fc7ad053ef454303e": "v7.0.0",
	},
	"aws-actions/configure-aws-credentials": {
		"e6de054238d6b7531b4efff3b6587d9aade6a06c": "v6.2.3",
	},
	"docker/build-push-action": {
		"53b7df96c91f9c12dcc8a07bcb9ccacbed38856a": "v7.3.0",
	},
	"pulumi/actions": {
		"8e5e406f4007fca908480587cb9893c07090f58d": "v7.0.0",
	},
}

var (
	usesLine = regexp.MustCompile(`^\s*(?:-\s*)?uses:\s*(\S+)(?:\s*#\s*(\S+))?\s*$`)
	fullSHA  = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// Every action is pinned to a full commit SHA, says which tag that is, and is one of the
// verified node24 versions above.
func TestWorkflowActionsArePinnedToVerifiedNode24Versions(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(".github/workflows/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows found: %v", err)
	}
	used := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			m := usesLine.FindStringSubmatch(line)
			if m == nil || strings.HasPrefix(m[1], "./") {
				continue
			}
			used++
			where := f + ":" + strconv.Itoa(i+1)
			action, sha, ok := strings.Cut(m[1], "@")
			if !ok || !fullSHA.MatchString(sha) {
				t.Errorf("%s: %s is not pinned to a full commit SHA", where, m[1])
				continue
			}
			tag, known := verifiedActions[action][sha]
			switch {
			case !known:
				t.Errorf("%s: %s@%s (%s) is not a verified node24 version; see verifiedActions", where, action, sha, m[2])
			case m[2] != tag:
				t.Errorf("%s: the comment says %q, but %s is %s", where, m[2], sha, tag)
			}
		}
	}
	if used == 0 {
		t.Fatal("no `uses:` lines found; the check would pass vacuously")
	}
}

// The deploy job runs only from main, whatever branch a manual run starts from.
func TestDeployRunsOnlyFromMain(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(".github/workflows/deploy.yml")
	if err != nil {
		t.Fatal(err)
	}
	_, job, found := strings.Cut(string(data), "\n  deploy:")
	if !found || !strings.Contains(job, "if: github.ref == 'refs/heads/main'") {
		t.Error("the deploy job has no `if: github.ref == 'refs/heads/main'`")
	}
}

// CODEOWNERS covers what decides how stacks are deployed, guarded and configured.
func TestCodeOwnersCoverTheDeploymentPaths(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(".github/CODEOWNERS")
	if err != nil {
		t.Fatal(err)
	}
	owned := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && !strings.HasPrefix(fields[0], "#") {
			owned[fields[0]] = true
		}
	}
	for _, path := range []string{"/.github/", "/scripts/", "/cmd/previewguard/", "/internal/guard/", "/Pulumi.yaml", "/Pulumi.*.yaml"} {
		if !owned[path] {
			t.Errorf("CODEOWNERS does not cover %s", path)
		}
	}
}

// The jobs that hold cloud credentials take them from a GitHub environment, never from the
// repository: the deployment from `staging`, the preview from `preview`.
func TestCredentialsComeFromEnvironments(t *testing.T) {
	t.Parallel()
	for file, env := range map[string]string{"deploy.yml": "environment: staging", "pull-request.yml": "environment: preview", "e2e-aws.yml": "environment: e2e"} {
		data, err := os.ReadFile(filepath.Join(".github/workflows", file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "\n    "+env+"\n") {
			t.Errorf("%s: the job with credentials is not in `%s`", file, env)
		}
	}
}

// workflowJob is the part of a job these tests read.
type workflowJob struct {
	If             string            `yaml:"if"`
	TimeoutMinutes int               `yaml:"timeout-minutes"`
	Env            map[string]string `yaml:"env"`
	Steps          []struct {
		Name           string            `yaml:"name"`
		Uses           string            `yaml:"uses"`
		Run            string            `yaml:"run"`
		If             string            `yaml:"if"`
		TimeoutMinutes int               `yaml:"timeout-minutes"`
		With           map[string]string `yaml:"with"`
	} `yaml:"steps"`
}

func readJob(t *testing.T, file, job string) workflowJob {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(".github/workflows", file))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]workflowJob `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	j, ok := wf.Jobs[job]
	if !ok {
		t.Fatalf("%s has no job %s", file, job)
	}
	return j
}

// stageNeeds is every stage a stage of a Dockerfile is built from (FROM) or copies from
// (COPY --from), itself included.
func stageNeeds(stages []dockerStage, name string) map[string]bool {
	needs := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		i := slices.IndexFunc(stages, func(s dockerStage) bool { return s.name == n })
		if i < 0 || needs[n] {
			return
		}
		needs[n] = true
		visit(stages[i].base)
		for _, in := range stages[i].instructions {
			if flags, _ := copyArgs(in.args); in.cmd == "COPY" && flags["from"] != "" {
				visit(flags["from"])
			}
		}
	}
	visit(name)
	return needs
}

// contextFree reports whether a stage, and every stage it is built FROM, copies no file of
// the build context: the stages whose cache another builder can fill for pulumi-docker's.
func contextFree(stages []dockerStage, name string) bool {
	for i := slices.IndexFunc(stages, func(s dockerStage) bool { return s.name == name }); i >= 0; i = slices.IndexFunc(stages, func(s dockerStage) bool { return s.name == stages[i].base }) {
		for _, in := range stages[i].instructions {
			if flags, _ := copyArgs(in.args); (in.cmd == "COPY" || in.cmd == "ADD") && flags["from"] == "" {
				return false
			}
		}
	}
	return true
}

// The pull-request job fills the engine's build cache before make e2e, with a build of the
// app image's Dockerfile that pulumi-docker's builds then find: the same context, Dockerfile
// and arguments (but the app's source, which the warmed stages do not reach), of stages that
// copy no file of the context (a file's cache key includes its owner, which differs between
// the two builders' contexts). Every stage of the program's development and production
// targets that could be warmed that way, and runs a command, is warmed.
func TestLocalStackJobWarmsTheCacheThePulumiBuildReads(t *testing.T) {
	t.Parallel()
	job := readJob(t, "pull-request.yml", "local-stack")
	order := []string{}
	var warm []map[string]string
	for _, st := range job.Steps {
		switch {
		case strings.HasPrefix(st.Uses, "docker/build-push-action@"):
			order = append(order, "warm")
			warm = append(warm, st.With)
		case strings.Contains(st.Run, "scripts/ci.sh containerd-store"):
			order = append(order, "store")
		case st.Run == "make e2e":
			order = append(order, "e2e")
		}
	}
	if got := strings.Join(order, ","); got != "store,warm,e2e" {
		t.Fatalf("steps: %s; want the containerd store, the cache build, then make e2e", got)
	}
	w := warm[0]
	if !strings.Contains(w["cache-from"], "type=gha,") || !strings.Contains(w["cache-to"], "type=gha,mode=max,") {
		t.Errorf("the cache build does not read and write the gha cache: %v", w)
	}
	for _, target := range []string{"development", "production"} {
		run := mustRun(t, job.Env["STACK"], map[string]string{"phpTarget": target})
		build := run.Named("docker:index/image:Image", "app-image").Inputs["build"].ObjectValue()
		var args []string
		for k, v := range build["args"].ObjectValue() {
			if !strings.HasPrefix(string(k), "APP_SOURCE") {
				args = append(args, string(k)+"="+v.StringValue())
			}
		}
		sort.Strings(args)
		for _, c := range [][3]string{
			{"context", w["context"], build["context"].StringValue()},
			{"file", w["file"], build["dockerfile"].StringValue()},
			{"build-args", w["build-args"], strings.Join(args, "\n")},
		} {
			if c[1] != c[2] {
				t.Errorf("the cache build's %s is %q; the program builds %s with %q", c[0], c[1], target, c[2])
			}
		}
		stages, _ := parseDockerfile(t, build["dockerfile"].StringValue())
		if !contextFree(stages, w["target"]) {
			t.Errorf("the cache build's target %s copies files of the context: pulumi-docker's build would not find its layers", w["target"])
		}
		warmed := stageNeeds(stages, w["target"])
		for stage := range stageNeeds(stages, build["target"].StringValue()) {
			i := slices.IndexFunc(stages, func(s dockerStage) bool { return s.name == stage })
			runs := i >= 0 && slices.ContainsFunc(stages[i].instructions, func(in dockerInstruction) bool { return in.cmd == "RUN" })
			if runs && contextFree(stages, stage) && !warmed[stage] && stage != "app-source" {
				t.Errorf("%s needs stage %s, which the cache build could warm and does not", target, stage)
			}
		}
	}
	if budget := job.Env["E2E_BUDGET_MINUTES"]; budget == "" || job.TimeoutMinutes <= atoi(budget) {
		t.Errorf("the job states no budget (E2E_BUDGET_MINUTES %q) below its timeout (%d)", budget, job.TimeoutMinutes)
	}
}

// The AWS end-to-end job destroys its stack whatever happened before, within the job's
// timeout, and names the stack after the run, as scripts/e2e.sh requires.
func TestAWSJobAlwaysDestroys(t *testing.T) {
	t.Parallel()
	job := readJob(t, "e2e-aws.yml", "e2e")
	// One stack per run, the same for each attempt: a re-run keeps github.run_id and gets a
	// new github.run_attempt, and a name with the attempt in it would never destroy what a
	// failed attempt left behind.
	if job.Env["E2E_STACK"] != "e2e-${{ github.run_id }}" {
		t.Errorf("E2E_STACK = %q; want e2e-${{ github.run_id }}, one stack for every attempt of a run", job.Env["E2E_STACK"])
	}
	steps, total := map[string]string{}, 0
	for _, st := range job.Steps {
		if strings.HasPrefix(st.Run, "scripts/e2e.sh ") {
			steps[strings.TrimPrefix(st.Run, "scripts/e2e.sh ")] = st.If
			if st.TimeoutMinutes == 0 {
				t.Errorf("step %q has no timeout: a hung step would eat the destroy's time", st.Name)
			}
			total += st.TimeoutMinutes
		}
	}
	if len(steps) != 3 || steps["aws-destroy"] != "always()" || steps["aws-up"] != "" || steps["aws-check"] != "" {
		t.Errorf("steps: %v; want aws-up, aws-check, then aws-destroy with if: always()", steps)
	}
	if total > job.TimeoutMinutes {
		t.Errorf("the steps may take %d minutes, beyond the job's %d: the destroy could be cut off", total, job.TimeoutMinutes)
	}
	if !strings.Contains(job.If, "github.event.label.name == 'e2e-aws'") || !strings.Contains(job.If, "head.repo.full_name == github.repository") {
		t.Errorf("on a pull request the job must need the e2e-aws label and a branch of this repository: %s", job.If)
	}
}
