package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// The samples in testdata are `pulumi preview --json` documents of the kinds the guard
// must tell apart.
func runGuard(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func sample(name string) string { return filepath.Join("testdata", name) }

func TestCreateOnlyPasses(t *testing.T) {
	code, out, _ := runGuard(t, sample("create-only.json"))
	if code != 0 || !strings.HasPrefix(out, "ok:") {
		t.Errorf("exit %d, output %q: creating stateful resources is not destructive", code, out)
	}
}

func TestUpdateInPlacePasses(t *testing.T) {
	// An in-place update of Aurora, and the replacement of a task definition (not stateful),
	// are everyday changes.
	code, out, _ := runGuard(t, sample("update-in-place.json"))
	if code != 0 {
		t.Errorf("exit %d, output %q", code, out)
	}
}

func TestReplacingAuroraFails(t *testing.T) {
	code, out, _ := runGuard(t, "-format", "markdown", sample("replace-aurora.json"))
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"| **replace** | `db-cluster` (protected",
		"Aurora cluster (the database)",
		"`clusterIdentifier`, `kmsKeyId`",
		"allow-destructive-changes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	// create-replacement, replace and delete-replaced of one resource are one finding.
	if n := strings.Count(out, "db-cluster"); n != 1 {
		t.Errorf("db-cluster listed %d times", n)
	}
	if strings.Contains(out, "db-credentials-value") {
		t.Error("an in-place update was listed")
	}
	if !strings.HasPrefix(out, "### :rotating_light:") {
		t.Errorf("the findings must open the comment:\n%s", out)
	}
}

// Replacing a generated credential, an Aurora instance, a log group, an Elastic IP or the
// load balancer loses data or cuts the app off; a task definition is an everyday change.
func TestReplacingWhatCutsTheAppOffFails(t *testing.T) {
	code, out, _ := runGuard(t, sample("replace-cutoffs.json"))
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{"db-password (generated credential", "db-1 (Aurora instance", "app-logs (CloudWatch log group", "network-nat-1 (Elastic IP", "lb-alb (load balancer"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "app-task") {
		t.Errorf("a task definition was listed:\n%s", out)
	}
}

func TestDeletingAVolumeFails(t *testing.T) {
	code, out, _ := runGuard(t, sample("delete-volume.json"))
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(out, "delete  db-data (Docker volume (local data))") {
		t.Errorf("output:\n%s", out)
	}
	if strings.Contains(out, "db-container") || strings.Contains(out, " db ") {
		t.Errorf("a resource without data was listed:\n%s", out)
	}
}

func TestBadInputIsAnErrorNotAPass(t *testing.T) {
	cases := map[string]string{
		"malformed.json":      "not JSON",
		"not-a-preview.json":  `no "steps"`,
		"failed-preview.json": "the preview failed: invalid stack configuration",
		"missing.json":        "no such file",
		// These three passed once, with exit 0: a guard that fails open.
		"empty-steps.json":     "no step for the root stack",
		"unknown-op.json":      `step "obliterate"`,
		"duplicate-steps.json": `the key "steps" appears twice`,
	}
	for file, want := range cases {
		code, out, errOut := runGuard(t, "-format", "markdown", sample(file))
		if code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", file, code, errOut, want)
		}
		if file != "missing.json" && !strings.Contains(out, "could not read the preview") {
			t.Errorf("%s: the comment must say the guard could not judge:\n%s", file, out)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"a.json", "b.json"}, {"-format", "html", "a.json"}} {
		if code, _, errOut := runGuard(t, args...); code != 2 || !strings.Contains(errOut, "usage:") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

func TestStdin(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"-"}, strings.NewReader(`{"steps": [{"op": "same", "urn": "urn:pulumi:local::sudoku::pulumi:pulumi:Stack::sudoku-local"}]}`), &out, &errOut)
	if code != 0 {
		t.Errorf("exit %d: %s", code, errOut.String())
	}
}

// The dependents that a delete-before-replace deletes first are in the preview only as
// delete-replaced steps (shown with --show-replacement-steps): they are findings too.
func TestDeleteBeforeReplaceDependentsAreFound(t *testing.T) {
	code, out, _ := runGuard(t, sample("dbr-dependent.json"))
	if code != 1 || !strings.Contains(out, "replace db-cluster (Aurora cluster") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
}
