package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The workflows' glue (scripts/ci.sh), run with stand-ins for pulumi and gh.

// fakeBin writes an executable shell script named name into dir.
func fakeBin(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func ciScript(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	tmp := t.TempDir()
	out := filepath.Join(tmp, "github-output")
	cmd := exec.Command("scripts/ci.sh", args...)
	cmd.Env = append(os.Environ(), append(env, "RUNNER_TEMP="+tmp, "GITHUB_OUTPUT="+out)...)
	combined, err := cmd.CombinedOutput()
	outputs, _ := os.ReadFile(out)
	return string(combined), string(outputs), err
}

func withFakes(t *testing.T, fakes map[string]string) []string {
	t.Helper()
	bin := t.TempDir()
	for name, body := range fakes {
		fakeBin(t, bin, name, body)
	}
	return []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
}

func TestCIGuardStep(t *testing.T) {
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
		})
	}
}

func TestCIAllowDestructiveStep(t *testing.T) {
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
	env := withFakes(t, map[string]string{"pulumi": "exit 0"})
	log, _, err := ciScript(t, append(env, "PULUMI_BACKEND_URL=", "PULUMI_ACCESS_TOKEN="), "select")
	if err == nil || !strings.Contains(log, "PULUMI_BACKEND_URL") {
		t.Errorf("selecting without a backend: %v\n%s", err, log)
	}
}

// The local commands stop at once, saying what to install, when a prerequisite is missing;
// an engine that does not answer cannot make them hang.
func TestLocalCommandsStopWithoutPrerequisites(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	system := "/usr/bin:/bin"
	cases := []struct {
		name  string
		fakes map[string]string
		want  string
	}{
		{"no pulumi", nil, "pulumi is not installed. Install the Pulumi CLI"},
		{"no go", map[string]string{"pulumi": "exit 0"}, "go is not installed. Install Go"},
		{"no docker", map[string]string{"pulumi": "exit 0", "go": "exit 0"}, "docker is not installed. Install Docker"},
		{"engine down", map[string]string{"pulumi": "exit 0", "go": "exit 0", "docker": "exit 1"}, "the Docker engine does not answer"},
		{"engine hangs", map[string]string{"pulumi": "exit 0", "go": "exit 0", "docker": "sleep 30"}, "took over 1 s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bin := t.TempDir()
			for name, body := range c.fakes {
				fakeBin(t, bin, name, body)
			}
			cmd := exec.Command("scripts/local.sh", "up")
			cmd.Env = []string{"PATH=" + bin + ":" + system, "HOME=" + t.TempDir(), "SUDOKU_DOCKER_TIMEOUT=1"}
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
