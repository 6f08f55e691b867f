package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func costreport(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func sample(name string) string { return filepath.Join("testdata", name) }

// A delete prices the old side only: one NAT gateway and its public address fewer.
func TestDeleteSavesWhatItRemoves(t *testing.T) {
	code, out, errOut := costreport(t, sample("single-nat.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// $0.052 × 730 + 10 GB × $0.052 + $0.005 × 730, for the NAT gateway and address going.
	for _, want := range []string{"TOTAL", "$84.26", "$42.13", "-$42.13", "natGbPerGateway = 10"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// A replace prices both sides, once, however many steps the preview shows for it.
func TestReplacePricesBothSides(t *testing.T) {
	code, out, _ := costreport(t, "-format", "markdown", sample("replace-instance.json"))
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	// db.t4g.medium: $0.085 × 730; Serverless v2 paused most of the month: 0.5 ACU × 160 h × $0.14.
	for _, want := range []string{"| `db-1` | rds:ClusterInstance | Serverless v2, 0.5 ACU × 160 h | $62.05 | $11.20 | -$50.85 |", "auroraActiveHours"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "`db-1`"); n != 1 {
		t.Errorf("db-1 priced %d times", n)
	}
}

// What the table cannot price is listed, never counted as free.
func TestUnknownTypesAreNotPriced(t *testing.T) {
	_, out, _ := costreport(t, sample("unknown-type.json"))
	if !strings.Contains(out, "NOT PRICED") || !strings.Contains(out, "warehouse (aws:redshift/cluster:Cluster): no price for this type") {
		t.Errorf("an unknown type is not reported:\n%s", out)
	}
	if !strings.Contains(out, "2 resources cost nothing") || !strings.Contains(out, "$1.30") {
		t.Errorf("the known ones are not counted:\n%s", out)
	}
}

// A throwaway stack is billed by the hour: -for prices the new state pro rata.
func TestPricesARun(t *testing.T) {
	// The new state is $42.13 a month (one NAT gateway and its address): 73 of 730 hours.
	if _, out, _ := costreport(t, "-for", "73h", sample("single-nat.json")); !strings.Contains(out, "For 73h0m0s: $4.21") {
		t.Errorf("no price for 73 hours:\n%s", out)
	}
	if code, _, errOut := costreport(t, "-for", "-1h", sample("single-nat.json")); code != 2 || !strings.Contains(errOut, "usage:") {
		t.Errorf("-for -1h: exit %d, %s", code, errOut)
	}
}

func TestAssumptionsCanBeChanged(t *testing.T) {
	_, out, _ := costreport(t, "-assume", "natGbPerGateway=1000", sample("single-nat.json"))
	if !strings.Contains(out, "natGbPerGateway = 1000") || !strings.Contains(out, "-$93.61") {
		t.Errorf("the assumption did not change the estimate:\n%s", out)
	}
	for _, bad := range []string{"noSuchThing=1", "natGbPerGateway", "natGbPerGateway=-1"} {
		if code, _, errOut := costreport(t, "-assume", bad, sample("single-nat.json")); code != 2 || !strings.Contains(errOut, "-assume") {
			t.Errorf("-assume %s: exit %d, %s", bad, code, errOut)
		}
	}
}

// Input that is not a successful preview is an error, as for the guard.
func TestBadInputIsAnError(t *testing.T) {
	for file, want := range map[string]string{
		"malformed.json":       "not JSON",
		"failed-preview.json":  "the preview failed",
		"empty-steps.json":     "no step for the root stack",
		"duplicate-steps.json": "appears twice",
		"missing.json":         "no such file",
	} {
		path := filepath.Join("..", "previewguard", "testdata", file)
		code, out, errOut := costreport(t, "-format", "markdown", path)
		if code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("%s: exit %d, %q; want 2 and %q", file, code, errOut, want)
		}
		if file != "missing.json" && !strings.Contains(out, "could not read the preview") {
			t.Errorf("%s: the comment must say so: %s", file, out)
		}
	}
	if code, _, errOut := costreport(t, "-format", "html", "x.json"); code != 2 || !strings.Contains(errOut, "usage:") {
		t.Errorf("usage: exit %d, %s", code, errOut)
	}
}
