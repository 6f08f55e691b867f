package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/sudoku/infra/internal/cost"
	"github.com/sudoku/infra/internal/preview"
)

// stackCost is cmd/costreport's estimate of a stack's first deployment, from the preview the
// engine would show for it.
func stackCost(t *testing.T, stack string, overrides map[string]string) *cost.Report {
	t.Helper()
	return runCost(t, mustRun(t, stack, overrides))
}

// e2eStackCost is the estimate of the end-to-end AWS stack (scripts/e2e-aws.yaml).
func e2eStackCost(t *testing.T) *cost.Report {
	t.Helper()
	run, err := runE2E(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	return runCost(t, run)
}

// runCost is cmd/costreport's estimate of what a run registers, as a first deployment.
func runCost(t *testing.T, run *stackRun) *cost.Report {
	t.Helper()
	p, err := preview.Read(bytes.NewReader(run.PreviewJSON(nil)))
	if err != nil {
		t.Fatal(err)
	}
	table, err := cost.DefaultTable()
	if err != nil {
		t.Fatal(err)
	}
	return cost.Estimate(p, table)
}

func seedCost(t *testing.T) *cost.Report {
	t.Helper()
	table, err := cost.DefaultTable()
	if err != nil {
		t.Fatal(err)
	}
	return cost.Seed(table)
}

// Staging costs at most half the old design's staging, priced with the same table and
// assumptions, while it keeps two AZs, a reader in the other AZ, two app tasks, encryption,
// backups and protection (the other tests hold those).
func TestStagingCostsAtMostHalfTheSeed(t *testing.T) {
	t.Parallel()
	staging, seed := stackCost(t, "staging", nil), seedCost(t)
	if staging.New > seed.New/2 {
		t.Errorf("staging costs $%.2f a month, more than half the old design's $%.2f", staging.New, seed.New)
	}
	run := mustRun(t, "staging", nil)
	if n := len(run.OfType("aws:rds/clusterInstance:ClusterInstance")); n < 2 {
		t.Errorf("staging saves by dropping the reader (%d instances)", n)
	}
}

// Every resource of the AWS stacks has a price (or costs nothing by itself): nothing is
// silently left out of the estimate.
func TestEveryAwsResourceIsPriced(t *testing.T) {
	t.Parallel()
	for _, r := range []*cost.Report{stackCost(t, "staging", nil), stackCost(t, "production", promoted),
		stackCost(t, "staging", map[string]string{"natGateways": "none", "ecsExec": "true", "waf": "true", "cpuArchitecture": "arm64", "phpCapacity": "on-demand"}), e2eStackCost(t)} {
		for _, u := range r.Unpriced {
			t.Errorf("not priced: %s (%s): %s", u.Name, u.Type, u.Why)
		}
	}
}

// docs/aws.md's "What it costs" comes from cmd/costreport's estimates of the committed stacks.
func TestDocsCost(t *testing.T) {
	parallelUnlessUpdating(t)
	staging, production, seed := stackCost(t, "staging", nil), stackCost(t, "production", promoted), seedCost(t)
	var b strings.Builder
	fmt.Fprintf(&b, "\n| Stack | A month | Against the old design |\n|---|---:|---:|\n")
	fmt.Fprintf(&b, "| The old design's staging (2 NAT, 2 db.t4g.medium, cache.t3.micro, ALB, 3 on-demand tasks) | $%.2f | 100%% |\n", seed.New)
	fmt.Fprintf(&b, "| `staging` (`Pulumi.staging.yaml`) | $%.2f | %.0f%% |\n", staging.New, 100*staging.New/seed.New)
	fmt.Fprintf(&b, "| `production` (`Pulumi.production.yaml`, the highly available defaults) | $%.2f | %.0f%% |\n\n", production.New, 100*production.New/seed.New)
	for _, r := range []struct {
		title  string
		report *cost.Report
	}{{"staging", staging}, {"production", production}} {
		report := strings.Replace(r.report.Markdown("Cost of "+r.title), "### ", "#### ", 1)
		fmt.Fprintf(&b, "<details><summary>The estimate of %s, by resource</summary>\n\n%s\n</details>\n\n", r.title, report)
	}
	assertGeneratedSection(t, "cost", "internal/cost/prices.json or the stack files", b.String())
}
