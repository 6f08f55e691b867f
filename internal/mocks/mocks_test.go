package mocks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

type component struct{ pulumi.ResourceState }

func TestDuplicateURNIsRefusedLikeTheEngine(t *testing.T) {
	_, err := Run("p", "s", nil, func(ctx *pulumi.Context) error {
		for _, parent := range []string{"a", "b"} {
			c := &component{}
			if err := ctx.RegisterComponentResource("p:x:C", parent, c); err != nil {
				return err
			}
			// Same child name under two parents of the same type: the URNs collide, because
			// a URN names the parent's type, not the parent.
			if _, err := random.NewRandomPassword(ctx, "pw", &random.RandomPasswordArgs{Length: pulumi.Int(8)}, pulumi.Parent(c)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "duplicate resource URN") {
		t.Fatalf("want a duplicate URN error, got %v", err)
	}
}

func TestProviderSecretOutputsAreSecretAndLeaksAreFound(t *testing.T) {
	m, err := Run("p", "s", nil, func(ctx *pulumi.Context) error {
		pw, err := random.NewRandomPassword(ctx, "pw", &random.RandomPasswordArgs{Length: pulumi.Int(16)})
		if err != nil {
			return err
		}
		a, err := Await(ctx, pw.Result)
		if err != nil {
			return err
		}
		if !a.Secret {
			t.Error("random's result is not secret, as the engine would make it")
		}
		// A plaintext copy of the password in another resource's inputs is a leak.
		_, err = random.NewRandomPassword(ctx, "leaky", &random.RandomPasswordArgs{
			Length:  pulumi.Int(8),
			Keepers: pulumi.StringMap{"copy": pulumi.Unsecret(pw.Result).(pulumi.StringOutput)},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	leaks := m.PlaintextLeaks()
	if len(leaks) != 1 || !strings.Contains(leaks[0], "leaky: keepers.copy") {
		t.Errorf("leaks = %v, want the one in leaky's keepers", leaks)
	}
}

func writeProject(t *testing.T, stackFile string) string {
	t.Helper()
	dir := t.TempDir()
	project := `name: p
runtime: go
config:
  size:
    type: integer
    default: 3
  names:
    type: array
    items:
      type: string
    default: [a]
`
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte(project), 0o644); err != nil {
		t.Fatal(err)
	}
	if stackFile != "" {
		if err := os.WriteFile(filepath.Join(dir, "Pulumi.dev.yaml"), []byte(stackFile), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestStackConfig(t *testing.T) {
	cfg, err := StackConfig(writeProject(t, ""), "dev")
	if err != nil || cfg["p:size"] != "3" || cfg["p:names"] != `["a"]` {
		t.Errorf("defaults: %v %v", cfg, err)
	}
	cfg, err = StackConfig(writeProject(t, "config:\n  p:size: 5\n  aws:region: eu-central-1\n"), "dev")
	if err != nil || cfg["p:size"] != "5" || cfg["aws:region"] != "eu-central-1" {
		t.Errorf("overrides: %v %v", cfg, err)
	}
	for file, want := range map[string]string{
		"config:\n  p:colour: red\n":               "p:colour is not declared",
		"config:\n  p:size: big\n":                 "declared integer",
		"config:\n  p:size:\n    secure: AAAbbb\n": "is encrypted",
		"config: [\n":                              "Pulumi.dev.yaml",
	} {
		if _, err := StackConfig(writeProject(t, file), "dev"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", file, err, want)
		}
	}
}

func TestLineDiff(t *testing.T) {
	got := lineDiff("a\nb\nc\n", "a\nx\nc\n")
	if got != "+ x\n- b\n" && got != "- b\n+ x\n" {
		t.Errorf("diff = %q", got)
	}
}

// A run with a prior state keeps what is unchanged (the engine's "same" step) and
// regenerates what it creates; the generation decides what "random" gives.
func TestStateKeepsWhatIsUnchanged(t *testing.T) {
	program := func(length int) pulumi.RunFunc {
		return func(ctx *pulumi.Context) error {
			_, err := random.NewRandomPassword(ctx, "kept", &random.RandomPasswordArgs{Length: pulumi.Int(16)})
			if err != nil {
				return err
			}
			_, err = random.NewRandomPassword(ctx, "changed", &random.RandomPasswordArgs{Length: pulumi.Int(length)})
			return err
		}
	}
	result := func(m *Monitor, name string) string {
		return m.Named("random:index/randomPassword:RandomPassword", name).Outputs["result"].SecretValue().Element.StringValue()
	}
	first, err := RunWith("p", "s", nil, Options{Generation: 1}, program(16))
	if err != nil {
		t.Fatal(err)
	}
	second, err := RunWith("p", "s", nil, Options{Prior: first.State(), Generation: 2}, program(24))
	if err != nil {
		t.Fatal(err)
	}
	kept, changed := second.Named("random:index/randomPassword:RandomPassword", "kept"), second.Named("random:index/randomPassword:RandomPassword", "changed")
	if kept.Op() != "same" || result(second, "kept") != result(first, "kept") {
		t.Errorf("an unchanged password: op %s, value kept %v", kept.Op(), result(second, "kept") == result(first, "kept"))
	}
	if changed.Op() != "update" || len(result(second, "changed")) != 24 {
		t.Errorf("a changed password: op %s, length %d", changed.Op(), len(result(second, "changed")))
	}
	fresh, err := RunWith("p", "s", nil, Options{Generation: 3}, program(16))
	if err != nil {
		t.Fatal(err)
	}
	if result(fresh, "kept") == result(first, "kept") {
		t.Error("a new stack generated the same password as another generation")
	}
}

func TestRegistryRefusesToOverwriteATag(t *testing.T) {
	g := NewRegistry()
	if err := g.push("repo/app:v1", "sha256:aa"); err != nil {
		t.Fatal(err)
	}
	if err := g.push("repo/app:v1", "sha256:aa"); err != nil {
		t.Errorf("pushing the same image again: %v", err)
	}
	if err := g.push("repo/app:v1", "sha256:bb"); err == nil || !strings.Contains(err.Error(), "ImageTagAlreadyExistsException: The image tag 'v1' already exists in the 'app' repository") {
		t.Errorf("overwriting an immutable tag: %v", err)
	}
}

func TestURNGlob(t *testing.T) {
	nested := "urn:pulumi:local::sudoku::sudoku:components:Database$docker:index/container:Container::db-container"
	top := "urn:pulumi:local::sudoku::docker:index/container:Container::lb-container"
	volume := "urn:pulumi:local::sudoku::sudoku:components:Database$docker:index/volume:Volume::db-data"
	cases := []struct {
		pattern, urn string
		match        bool
	}{
		{"urn:pulumi:*::*::**docker:index/container:Container::**", nested, true},
		{"urn:pulumi:*::*::**docker:index/container:Container::**", top, true},
		{"urn:pulumi:*::*::**docker:index/container:Container::**", volume, false},
		{"urn:pulumi:local::sudoku::*docker:index/container:Container::*", nested, false}, // * stops at ':'
		{"urn:pulumi:local::sudoku::*$docker:index/container:Container::*", nested, false},
		{"urn:pulumi:local::sudoku::docker:index/container:Container::*", top, true},
		{"urn:pulumi:other::*::**", top, false},
	}
	for _, c := range cases {
		if got := URNGlob(c.pattern).MatchString(c.urn); got != c.match {
			t.Errorf("%s on %s: %v, want %v", c.pattern, c.urn, got, c.match)
		}
	}
}
