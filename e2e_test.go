package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sudoku/infra/internal/mocks"
)

// e2eStackFile is the end-to-end test's stack settings, which scripts/e2e.sh copies to
// Pulumi.<stack>.yaml for a stack named after the run.
const e2eStackFile = "scripts/e2e-aws.yaml"

func runE2E(t *testing.T, overrides map[string]string) (*stackRun, error) {
	t.Helper()
	return runStackFile(t, "e2e-12345678901-1", e2eStackFile, overrides, mocks.Options{})
}

// The end-to-end stack runs every component, and a destroy leaves nothing of it behind:
// nothing protected or retained, no final snapshot, no kept backups, the KMS key deleted
// after KMS's shortest waiting period, the repositories and the log bucket emptied.
func TestE2EStackLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	run, err := runE2E(t, nil)
	if err != nil {
		t.Fatalf("the end-to-end stack does not validate: %v", err)
	}
	for _, c := range []string{"Network", "Database", "Cache", "MercureHub", "PhpService", "LoadBalancer"} {
		if len(run.OfType("sudoku:components:"+c)) != 1 {
			t.Errorf("the end-to-end stack lacks the %s component", c)
		}
	}
	for _, r := range run.Resources() {
		if r.Protect || r.RetainOnDelete {
			t.Errorf("%s (%s) is protected (%v) or outlives a destroy (%v)", r.Name, r.Type, r.Protect, r.RetainOnDelete)
		}
	}
	cluster := run.Named("aws:rds/cluster:Cluster", "db-cluster")
	if !boolean(cluster, "skipFinalSnapshot") || str(cluster, "finalSnapshotIdentifier") != "" || !boolean(cluster, "deleteAutomatedBackups") || boolean(cluster, "deletionProtection") {
		t.Error("Aurora would leave a final snapshot or backups, or refuse the destroy")
	}
	if key := run.Named("aws:kms/key:Key", "data-key"); num(key, "deletionWindowInDays") != 7 {
		t.Errorf("the KMS key's deletion window is %v days, want KMS's shortest, 7", num(key, "deletionWindowInDays"))
	}
	for _, c := range []struct {
		typ, input string
		want       bool
	}{
		{"aws:ecr/repository:Repository", "forceDelete", true}, // deleted with its images
		{"aws:s3/bucketV2:BucketV2", "forceDestroy", true},     // emptied first
		{"aws:lb/loadBalancer:LoadBalancer", "enableDeletionProtection", false},
	} {
		all := run.OfType(c.typ)
		if len(all) == 0 {
			t.Errorf("no %s in the end-to-end stack", c.typ)
		}
		for _, r := range all {
			if boolean(r, c.input) != c.want {
				t.Errorf("%s %s: %s is %v; a destroy needs %v", c.typ, r.Name, c.input, !c.want, c.want)
			}
		}
	}
}

// Skipping the final snapshot is for throwaway stacks only: staging and production always
// leave one, and they cannot call themselves ephemeral.
func TestOnlyEphemeralStacksSkipTheFinalSnapshot(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, stack string
		overrides   map[string]string
		key         string
	}{
		{"staging without a final snapshot", "staging", map[string]string{"dbFinalSnapshot": "false"}, "sudoku:dbFinalSnapshot must be true unless tier is ephemeral"},
		{"production without a final snapshot", "production", mergeConfig(promoted, map[string]string{"dbFinalSnapshot": "false"}), "sudoku:dbFinalSnapshot must be true unless tier is ephemeral"},
		{"staging calling itself ephemeral", "staging", map[string]string{"tier": "ephemeral", "dbFinalSnapshot": "false"}, "sudoku:tier must be staging or production on the stack staging"},
		{"production calling itself ephemeral", "production", mergeConfig(promoted, map[string]string{"tier": "ephemeral"}), "sudoku:tier must be staging or production on the stack production"},
		{"a personal stack without a final snapshot", "alice", map[string]string{"target": "aws", "tier": "staging", "allowHttpOnly": "true", "dbFinalSnapshot": "false"}, "sudoku:dbFinalSnapshot"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := runStack(t, c.stack, c.overrides); err == nil || !strings.Contains(err.Error(), c.key) {
				t.Errorf("got %v; want an error saying %q", err, c.key)
			}
		})
	}
	// The default keeps the snapshot, on any tier.
	if run, err := runE2E(t, map[string]string{"dbFinalSnapshot": "true"}); err != nil {
		t.Fatal(err)
	} else if boolean(run.Named("aws:rds/cluster:Cluster", "db-cluster"), "skipFinalSnapshot") || !run.Named("aws:kms/key:Key", "data-key").RetainOnDelete {
		t.Error("an ephemeral stack that keeps its final snapshot lost it, or the key that encrypts it")
	}
}

func mergeConfig(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// docs/e2e.md's cost of an end-to-end run comes from the same estimate.
func TestDocsE2ECost(t *testing.T) {
	parallelUnlessUpdating(t)
	r := e2eStackCost(t)
	hourly := r.New / r.Table.HoursPerMonth
	text := fmt.Sprintf("\nThe stack (`%s`) would cost $%.2f a month if it stayed up, so $%.2f an hour at list price in eu-central-1. "+
		"A run pays for the time the stack exists, and at least a started hour of the NAT gateway, the load balancer and ElastiCache (billed by the hour): "+
		"about $%.2f for a run of up to an hour, plus the GitHub runner's minutes. Nightly, that is about $%.0f a month. "+
		"The job summary reports each run's duration and its cost (`cmd/costreport -for`).\n\n",
		e2eStackFile, r.New, hourly, hourly, 30*hourly)
	assertGeneratedSection(t, "e2e-cost", e2eStackFile+" or internal/cost/prices.json", text)
}
