package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
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
	for file, env := range map[string]string{"deploy.yml": "environment: staging", "pull-request.yml": "environment: preview"} {
		data, err := os.ReadFile(filepath.Join(".github/workflows", file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "\n    "+env+"\n") {
			t.Errorf("%s: the job with credentials is not in `%s`", file, env)
		}
	}
}
