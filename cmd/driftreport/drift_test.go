package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata/drift.json is a refresh preview of staging, in the shape the Pulumi CLI writes it
// (see the comment at the top of drift.go): every resource's step is "refresh" unless the
// cloud differs. In it, someone added a tag to the load balancer's security group, turned the
// database's ingress rule from the app's security group into 0.0.0.0/0, and deleted the VPC
// flow log; Secrets Manager moved the app secret's version to AWSPREVIOUS (its secretString
// is a secret); and auto scaling doubled the app's tasks, which the program leaves to it
// (ignoreChanges). The cases below change it to each situation the report must tell apart.

type doc = map[string]any

func fixture(t *testing.T) doc {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "drift.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d doc
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func steps(d doc) []any { return d["steps"].([]any) }

// stepOf is the step of the resource named name.
func stepOf(t *testing.T, d doc, name string) doc {
	t.Helper()
	for _, s := range steps(d) {
		if strings.HasSuffix(s.(doc)["urn"].(string), "::"+name) {
			return s.(doc)
		}
	}
	t.Fatalf("the fixture has no step for %s", name)
	return nil
}

// only keeps the steps of the root stack and of the named resources, and counts them again.
func only(d doc, names ...string) {
	var kept []any
	for _, s := range steps(d) {
		urn := s.(doc)["urn"].(string)
		keep := strings.Contains(urn, "pulumi:pulumi:Stack")
		for _, n := range names {
			keep = keep || strings.HasSuffix(urn, "::"+n)
		}
		if keep {
			kept = append(kept, s)
		}
	}
	d["steps"] = kept
	recount(d)
}

// recount sets changeSummary from the steps, as the engine counts their results.
func recount(d doc) {
	summary := map[string]any{}
	add := func(op string) {
		n, _ := summary[op].(int)
		summary[op] = n + 1
	}
	for _, s := range steps(d) {
		switch op := s.(doc)["op"].(string); op {
		case "refresh":
			add("same")
		default:
			add(op)
		}
	}
	d["changeSummary"] = summary
}

// set puts v at the path (keys of nested objects) of a step.
func set(s doc, v any, path ...string) {
	for _, k := range path[:len(path)-1] {
		s = s[k].(doc)
	}
	s[path[len(path)-1]] = v
}

func encode(t *testing.T, d doc) string {
	t.Helper()
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func report(t *testing.T, input string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(append(args, "-"), strings.NewReader(input), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestWhatIsDrift(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		change   func(t *testing.T, d doc)
		code     int
		want     []string // in the report
		unwanted []string // never in the report
	}{
		{
			name: "the fixture",
			code: 2,
			want: []string{
				"### :warning: Drift in stack staging: 4 resources of 10 differ from the stack's state",
				"#### `db-from-app-in` (`aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule`)",
				"| `cidrIpv4` | added in the cloud | (none) | `\"0.0.0.0/0\"` |",
				"| `referencedSecurityGroupId` | removed in the cloud | `\"sg-06b9974fe4574442a\"` | (none) |",
				"#### `network-alb` (`aws:ec2/securityGroup:SecurityGroup`)",
				"| `tags.Owner` | added in the cloud | (none) | `\"alice@example.com\"` |",
				"| `tagsAll.Owner` | added in the cloud | (none) | `\"alice@example.com\"` |",
				"#### `network-flow-log` (`aws:ec2/flowLog:FlowLog`)",
				"**Deleted in the cloud**",
				"| `secretString` | changed | `[secret]` | `[secret]` |",
				"| `versionStages[0]` | changed | `\"AWSCURRENT\"` | `\"AWSPREVIOUS\"` |",
				"`urn:pulumi:staging::sudoku::sudoku:components:Database$aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule::db-from-app-in`",
				// The app's task count is listed, as not drift.
				"<details><summary>Not drift: 1 change the program leaves to AWS</summary>",
				"| `app-service` | `desiredCount` | `2` | `4` | the resource's ignoreChanges lists desiredCount",
			},
			unwanted: []string{"#### `app-service`", "mercure-service", "network-vpc"},
		},
		{
			name:   "only what the program leaves to AWS changed",
			change: func(t *testing.T, d doc) { only(d, "app-service", "mercure-service", "network-vpc") },
			code:   0,
			want: []string{
				"### :white_check_mark: No drift in stack staging",
				"The refresh preview read 4 resources; each matches the stack's state, but for the changes the program leaves to AWS (below).",
				"| `app-service` | `desiredCount` | `2` | `4` |",
			},
			unwanted: []string{":warning:", "####"},
		},
		{
			// A state from before the engine recorded ignoreChanges, or a provider that
			// reports the change anyway: the program's own list still holds.
			name: "desiredCount of the auto-scaled service, without ignoreChanges in its state",
			change: func(t *testing.T, d doc) {
				only(d, "app-service")
				for _, st := range []string{"oldState", "newState"} {
					delete(stepOf(t, d, "app-service")[st].(doc), "ignoreChanges")
				}
			},
			code: 0,
			want: []string{"No drift in stack staging", "application auto scaling sets the app's task count"},
		},
		{
			name: "desiredCount of a service the program does not scale",
			change: func(t *testing.T, d doc) {
				only(d, "mercure-service")
				s := stepOf(t, d, "mercure-service")
				s["op"] = "update"
				s["diffReasons"] = []any{"desiredCount"}
				s["detailedDiff"] = doc{"desiredCount": doc{"kind": "update", "inputDiff": true}}
				set(s, 0, "newState", "inputs", "desiredCount")
				set(s, 0, "newState", "outputs", "desiredCount")
				recount(d)
			},
			code: 2,
			want: []string{"#### `mercure-service`", "| `desiredCount` | changed | `1` | `0` |"},
		},
		{
			name: "a change under an ignoreChanges path is not drift",
			change: func(t *testing.T, d doc) {
				only(d, "network-alb")
				s := stepOf(t, d, "network-alb")
				for _, st := range []string{"oldState", "newState"} {
					set(s, []any{"tags", "tagsAll"}, st, "ignoreChanges")
				}
			},
			code: 0,
			want: []string{"No drift", "| `network-alb` | `tags.Owner` |", "| `network-alb` | `tagsAll.Owner` |"},
		},
		{
			name:   "clean",
			change: func(t *testing.T, d doc) { only(d, "network-vpc", "mercure-service") },
			code:   0,
			want:   []string{"### :white_check_mark: No drift in stack staging\n\nThe refresh preview read 3 resources; each matches the stack's state.\n"},
		},
		{
			name: "a property whose change pulumi up could only undo by replacing the resource",
			change: func(t *testing.T, d doc) {
				only(d, "db-from-app-in")
				set(stepOf(t, d, "db-from-app-in"), "add-replace", "detailedDiff", "cidrIpv4", "kind")
			},
			code: 2,
			want: []string{"| `cidrIpv4` | added in the cloud; `pulumi up` would replace the resource to undo it |"},
		},
		{
			name: "an update with diffReasons only",
			change: func(t *testing.T, d doc) {
				only(d, "network-alb")
				stepOf(t, d, "network-alb")["detailedDiff"] = doc{}
			},
			code: 2,
			want: []string{"| `tags` | changed | `{\"Name\":\"sudoku-staging-alb\"}` | `{\"Name\":\"sudoku-staging-alb\",\"Owner\":\"alice@example.com\"}` |"},
		},
		{
			name: "a long value is shortened",
			change: func(t *testing.T, d doc) {
				only(d, "network-alb")
				set(stepOf(t, d, "network-alb"), strings.Repeat("x", 500), "newState", "outputs", "tags", "Owner")
			},
			code:     2,
			want:     []string{"`\"" + strings.Repeat("x", 78) + "…`"},
			unwanted: []string{strings.Repeat("x", 80)},
		},
		{
			name: "a pipe in a value does not break the table",
			change: func(t *testing.T, d doc) {
				only(d, "network-alb")
				set(stepOf(t, d, "network-alb"), "a|b`c", "newState", "outputs", "tags", "Owner")
			},
			code: 2,
			want: []string{"| `tags.Owner` | added in the cloud | (none) | `` \"a\\|b`c\" `` |"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := fixture(t)
			if c.change != nil {
				c.change(t, d)
			}
			code, out, errOut := report(t, encode(t, d))
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, c.code, errOut, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("the report lacks %q:\n%s", w, out)
				}
			}
			for _, u := range c.unwanted {
				if strings.Contains(out, u) {
					t.Errorf("the report has %q:\n%s", u, out)
				}
			}
		})
	}
}

// A secret is never shown, however the step holds it: as Pulumi's [secret] on either side
// (a provider may read a value back without marking it), inside an object, as an output the
// resource marks secret, or under a name that holds credentials.
func TestSecretsAreMasked(t *testing.T) {
	t.Parallel()
	const plaintext = "hunter2-not-for-issues"
	cases := []struct {
		name   string
		change func(t *testing.T, s doc)
		path   string
	}{
		{"read back in plain text", func(t *testing.T, s doc) {
			set(s, plaintext, "newState", "inputs", "secretString")
		}, "secretString"},
		{"inside an object", func(t *testing.T, s doc) {
			set(s, doc{"user": "app", "password": "[secret]", "note": plaintext}, "oldState", "outputs", "kernel")
			set(s, doc{"user": "app", "password": plaintext}, "newState", "outputs", "kernel")
			s["detailedDiff"] = doc{"kernel": doc{"kind": "update", "inputDiff": false}}
		}, "kernel"},
		{"in a secret envelope", func(t *testing.T, s doc) {
			set(s, doc{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": plaintext}, "oldState", "outputs", "blob")
			set(s, plaintext, "newState", "outputs", "blob")
			s["detailedDiff"] = doc{"blob": doc{"kind": "update", "inputDiff": false}}
		}, "blob"},
		{"an output the resource marks secret", func(t *testing.T, s doc) {
			for _, st := range []string{"oldState", "newState"} {
				set(s, []any{"versionStages"}, st, "additionalSecretOutputs")
			}
			set(s, []any{plaintext}, "newState", "outputs", "versionStages")
			s["detailedDiff"] = doc{"versionStages[0]": doc{"kind": "update", "inputDiff": false}}
		}, "versionStages[0]"},
		{"a credential by its name", func(t *testing.T, s doc) {
			set(s, "old-"+plaintext, "oldState", "inputs", "masterPassword")
			set(s, plaintext, "newState", "inputs", "masterPassword")
			s["detailedDiff"] = doc{"masterPassword": doc{"kind": "update", "inputDiff": true}}
		}, "masterPassword"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := fixture(t)
			only(d, "app-secret-value")
			c.change(t, stepOf(t, d, "app-secret-value"))
			code, out, errOut := report(t, encode(t, d))
			if code != 2 {
				t.Fatalf("exit %d, want 2\n%s%s", code, errOut, out)
			}
			if strings.Contains(out+errOut, plaintext) {
				t.Errorf("the report shows the secret:\n%s", out)
			}
			if want := "| `" + c.path + "` | changed | `[secret]` | `[secret]` |"; !strings.Contains(out, want) {
				t.Errorf("the report lacks %q:\n%s", want, out)
			}
		})
	}
}

// Input that is not a complete, successful refresh preview is an error (exit 1) that says
// what is wrong, never a pass, and nothing goes to standard output.
func TestBadInput(t *testing.T) {
	t.Parallel()
	preview, err := os.ReadFile(filepath.Join("..", "previewguard", "testdata", "update-in-place.json"))
	if err != nil {
		t.Fatal(err)
	}
	change := func(f func(t *testing.T, d doc)) func(t *testing.T) string {
		return func(t *testing.T) string {
			d := fixture(t)
			f(t, d)
			return encode(t, d)
		}
	}
	cases := []struct {
		name  string
		input func(t *testing.T) string
		want  string
	}{
		{"empty", func(*testing.T) string { return "" }, "not a refresh preview"},
		{"not JSON", func(*testing.T) string { return "error: no stack named 'staging' found" }, "not a refresh preview"},
		{"two documents", func(t *testing.T) string { s := encode(t, fixture(t)); return s + s }, "more than one document"},
		{"a key twice", func(t *testing.T) string {
			return strings.Replace(encode(t, fixture(t)), `{"changeSummary":`, `{"steps":[],"changeSummary":`, 1)
		}, `the key "steps" appears twice`},
		{"a preview of an update", func(*testing.T) string { return string(preview) }, `the root stack's step is "same"`},
		{"a failed refresh", change(func(_ *testing.T, d doc) {
			d["diagnostics"] = []any{doc{"message": "error: reading ECS Service (app-service-5d7f41b): AccessDeniedException", "severity": "error"}}
		}), "AccessDeniedException"},
		{"a step a refresh does not take", change(func(t *testing.T, d doc) {
			stepOf(t, d, "network-vpc")["op"] = "create"
			recount(d)
		}), `step "create"`},
		{"an unknown diff kind", change(func(t *testing.T, d doc) {
			set(stepOf(t, d, "network-alb"), "changed", "detailedDiff", "tags.Owner", "kind")
		}), `the diff kind "changed" of tags.Owner`},
		{"no summary", change(func(_ *testing.T, d doc) { delete(d, "changeSummary") }), `no "changeSummary"`},
		// PULUMI_ENABLE_LEGACY_REFRESH_DIFF: the results are counted, the steps show none.
		{"changes counted but not shown", change(func(t *testing.T, d doc) {
			s := stepOf(t, d, "db-from-app-in")
			s["op"], s["detailedDiff"] = "refresh", nil
		}), `the summary counts 4 resources with the result "update", and the steps show 3`},
		{"no root stack", change(func(_ *testing.T, d doc) { d["steps"] = steps(d)[1:] }), "no step for the root stack"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := report(t, c.input(t))
			if code != 1 || out != "" || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, output %q, error %q; want exit 1, no output, an error saying %q", code, out, errOut, c.want)
			}
		})
	}
}

func TestCommandLine(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := run(nil, strings.NewReader(""), &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "name one refresh preview file") {
		t.Errorf("no file: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"testdata/no-such-file.json"}, strings.NewReader(""), &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "no-such-file.json") {
		t.Errorf("a missing file: exit %d, %q", code, errOut.String())
	}
	out.Reset()
	if code := run([]string{"-stack", "production", filepath.Join("testdata", "drift.json")}, strings.NewReader(""), &out, &errOut); code != 2 || !strings.HasPrefix(out.String(), "### :warning: Drift in stack production:") {
		t.Errorf("-stack: exit %d, %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"-expected"}, strings.NewReader(""), &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "aws:ecs/service:Service\tapp-service\tdesiredCount\t") {
		t.Errorf("-expected: exit %d, %q", code, out.String())
	}
}
