package main

import (
	"strings"
	"testing"

	"github.com/sudoku/infra/internal/mocks"
)

// Production: the same program and components as staging, other config.

func production(t *testing.T, overrides map[string]string) *stackRun {
	t.Helper()
	all := map[string]string{}
	for k, v := range promoted {
		all[k] = v
	}
	for k, v := range overrides {
		all[k] = v
	}
	return mustRun(t, "production", all)
}

func TestGoldenProduction(t *testing.T) {
	parallelUnlessUpdating(t)
	mocks.AssertGolden(t, "testdata/production.golden", mocks.Render(production(t, nil).Monitor))
}

// Config validation refuses a production stack that loses a guarantee production needs.
func TestProductionGuarantees(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		overrides map[string]string
		key       string
	}{
		{"one NAT gateway", map[string]string{"natGateways": "single"}, "sudoku:natGateways"},
		{"one database instance", map[string]string{"dbInstances": "1"}, "sudoku:dbInstances"},
		{"no cache replica", map[string]string{"cacheReplica": "false"}, "sudoku:cacheReplica"},
		{"one app task", map[string]string{"phpMinTasks": "1"}, "sudoku:phpMinTasks"},
		{"protection off", map[string]string{"protect": "false"}, "sudoku:protect"},
		{"load balancer unprotected", map[string]string{"albDeletionProtection": "false"}, "sudoku:protect"},
		{"HTTP only", map[string]string{"domainName": "", "hostedZoneId": "", "allowHttpOnly": "true"}, "sudoku:allowHttpOnly"},
		{"no alarm subscriber", map[string]string{"alarmEmails": "[]"}, "sudoku:alarmEmails"},
		{"no WAF", map[string]string{"waf": "false"}, "sudoku:waf"},
		{"a build of its own", map[string]string{"appImage": "", "mercureImage": ""}, "sudoku:appImage"},
		{"an image by tag", map[string]string{"appImage": "123456789012.dkr.ecr.eu-central-1.amazonaws.com/sudoku-staging-app:latest"}, "sudoku:appImage"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			all := map[string]string{}
			for k, v := range promoted {
				all[k] = v
			}
			for k, v := range c.overrides {
				all[k] = v
			}
			_, err := runStack(t, "production", all)
			if err == nil || !strings.Contains(err.Error(), c.key) {
				t.Errorf("production without that guarantee: %v; want an error naming %s", err, c.key)
			}
		})
	}
	// Staging may: it says it is staging.
	if _, err := runStack(t, "production", map[string]string{"tier": "staging", "alarmEmails": "[]", "natGateways": "single", "dbInstances": "1"}); err != nil {
		t.Errorf("tier staging: %v", err)
	}
}

// Production runs the images staging runs, by digest: it builds and pushes nothing, has no
// repository of its own, and may pull only from the repositories the images are in.
func TestProductionRunsStagingsImages(t *testing.T) {
	t.Parallel()
	run := production(t, nil)
	for _, typ := range []string{"docker:index/image:Image", "aws:ecr/repository:Repository", "random:index/randomId:RandomId"} {
		if n := len(run.OfType(typ)); n != 0 {
			t.Errorf("production has %d %s", n, typ)
		}
	}
	for task, want := range map[string]string{"app-task": promoted["appImage"], "mercure-task": promoted["mercureImage"]} {
		if got := serviceContainer(t, run.Named("aws:ecs/taskDefinition:TaskDefinition", task)).Image; got != want {
			t.Errorf("%s runs %s, want %s", task, got, want)
		}
	}
	for role, repo := range map[string]string{"app-execution": "sudoku-staging-app", "mercure-execution": "sudoku-staging-mercure"} {
		policy := str(run.Named("aws:iam/rolePolicy:RolePolicy", role), "policy")
		if !strings.Contains(policy, "arn:aws:ecr:eu-central-1:123456789012:repository/"+repo+`"`) {
			t.Errorf("%s may not pull from %s: %s", role, repo, policy)
		}
	}
	if refs := mocks.Flatten(run.outputs["imageRefs"].Value); refs != "app="+promoted["appImage"]+" mercure="+promoted["mercureImage"] {
		t.Errorf("imageRefs = %s", refs)
	}
	if _, ok := run.outputs["ecrRepositoryUrls"]; ok {
		t.Error("production reports repositories it does not have")
	}
	if run.Named("aws:lb/listener:Listener", "lb-https") == nil || len(run.OfType("aws:sns/topicSubscription:TopicSubscription")) == 0 {
		t.Error("production serves no HTTPS, or its alarms notify nobody")
	}
}

// Staging can let production's account pull its images, and only pull them.
func TestStagingLetsOtherAccountsPull(t *testing.T) {
	t.Parallel()
	if n := len(staging(t, nil).OfType("aws:ecr/repositoryPolicy:RepositoryPolicy")); n != 0 {
		t.Errorf("staging shares its images with nobody by default, but has %d repository policies", n)
	}
	run := staging(t, map[string]string{"ecrReaderAccounts": `["210987654321"]`})
	policies := run.OfType("aws:ecr/repositoryPolicy:RepositoryPolicy")
	if len(policies) != 2 {
		t.Fatalf("%d repository policies, want the app's and the hub's", len(policies))
	}
	for _, p := range policies {
		doc := str(p, "policy")
		if !strings.Contains(doc, "arn:aws:iam::210987654321:root") || strings.Contains(doc, "PutImage") || strings.Contains(doc, "ecr:*") {
			t.Errorf("%s: %s", p.Name, doc)
		}
	}
	if _, err := runStack(t, "staging", map[string]string{"ecrReaderAccounts": `["prod"]`}); err == nil || !strings.Contains(err.Error(), "sudoku:ecrReaderAccounts") {
		t.Errorf("a bad account ID: %v", err)
	}
}
