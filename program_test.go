package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/sudoku/infra/components"
	"github.com/sudoku/infra/internal/guard"
	"github.com/sudoku/infra/internal/mocks"
)

// stackRun is one run of the whole program against the mock engine.
type stackRun struct {
	*mocks.Monitor
	outputs map[string]mocks.Awaited
}

// runStack runs the program for stack with the configuration the engine would give it:
// Pulumi.yaml's defaults, then Pulumi.<stack>.yaml, then overrides ("key" or "ns:key").
func runStack(t *testing.T, stack string, overrides map[string]string) (*stackRun, error) {
	t.Helper()
	return runStackWith(t, stack, overrides, mocks.Options{})
}

// runStackWith is runStack in the world opts describes: a prior state, a generation, a
// registry.
func runStackWith(t *testing.T, stack string, overrides map[string]string, opts mocks.Options) (*stackRun, error) {
	t.Helper()
	return runStackFile(t, stack, filepath.Join(".", "Pulumi."+stack+".yaml"), overrides, opts)
}

// runStackFile is runStackWith with the stack's settings read from file.
func runStackFile(t *testing.T, stack, file string, overrides map[string]string, opts mocks.Options) (*stackRun, error) {
	t.Helper()
	cfg, err := mocks.StackConfigFile(".", file)
	if err != nil {
		t.Fatalf("loading the config of stack %q: %v", stack, err)
	}
	for k, v := range overrides {
		if !strings.Contains(k, ":") {
			k = "sudoku:" + k
		}
		cfg[k] = v
	}
	run := &stackRun{}
	run.Monitor, err = mocks.RunWith("sudoku", stack, cfg, opts, func(ctx *pulumi.Context) error {
		outputs, err := build(ctx)
		if err != nil {
			return err
		}
		run.outputs, err = mocks.AwaitAll(ctx, outputs)
		return err
	})
	return run, err
}

func mustRun(t *testing.T, stack string, overrides map[string]string) *stackRun {
	t.Helper()
	run, err := runStack(t, stack, overrides)
	if err != nil {
		t.Fatalf("program failed for stack %q: %v", stack, err)
	}
	return run
}

// The golden files list what each committed stack registers; a pull request that changes
// the infrastructure changes them, and reviewers read the diff. Regenerate: make golden.
func TestGoldenLocal(t *testing.T) {
	parallelUnlessUpdating(t)
	mocks.AssertGolden(t, "testdata/local.golden", mocks.Render(mustRun(t, "local", nil).Monitor))
}

func TestLocalStackHasTheSixComponents(t *testing.T) {
	t.Parallel()
	run := mustRun(t, "local", nil)
	for _, c := range []struct{ typ, name string }{
		{"Network", "network"}, {"Database", "db"}, {"Cache", "cache"},
		{"MercureHub", "mercure"}, {"PhpService", "app"}, {"LoadBalancer", "lb"},
	} {
		if run.Named("sudoku:components:"+c.typ, c.name) == nil {
			t.Errorf("component %s %q is missing", c.typ, c.name)
		}
	}
	if n := len(run.OfType("docker:index/container:Container")); n != 5 {
		t.Errorf("want 5 containers (db, cache, mercure, app, lb), got %d", n)
	}
	if n := len(run.OfType("docker:index/volume:Volume")); n != 3 {
		t.Errorf("want 3 data volumes (db, cache, mercure), got %d", n)
	}
}

// A personal stack (pulumi stack init alice) has no stack file: it must come up on Docker
// with the defaults, and share no name with another local stack.
func TestPersonalStackNeedsNoFileAndSharesNoNames(t *testing.T) {
	t.Parallel()
	alice := mustRun(t, "alice", nil)
	local := mustRun(t, "local", nil)
	names := func(run *stackRun) map[string]bool {
		out := map[string]bool{}
		for _, typ := range []string{"docker:index/container:Container", "docker:index/volume:Volume", "docker:index/network:Network", "docker:index/image:Image"} {
			for _, r := range run.OfType(typ) {
				key := "name"
				if typ == "docker:index/image:Image" {
					key = "imageName"
				}
				out[r.Inputs[mocks.Key(key)].StringValue()] = true
			}
		}
		return out
	}
	aliceNames := names(alice)
	if len(aliceNames) == 0 {
		t.Fatal("the personal stack registered no Docker objects")
	}
	for n := range aliceNames {
		if !strings.HasPrefix(n, "sudoku-alice-") {
			t.Errorf("%q is not prefixed with the stack name", n)
		}
		if names(local)[n] {
			t.Errorf("%q is used by both stacks", n)
		}
	}
}

func TestLocalOutputs(t *testing.T) {
	t.Parallel()
	run := mustRun(t, "local", nil)
	want := map[string]struct {
		value  string
		secret bool
	}{
		"url":        {"http://localhost:8080", false},
		"mercureUrl": {"http://localhost:8080/.well-known/mercure", false},
	}
	for k, w := range want {
		got := run.outputs[k]
		if got.Value != w.value || got.Secret != w.secret {
			t.Errorf("output %s = %v (secret %v), want %q (secret %v)", k, got.Value, got.Secret, w.value, w.secret)
		}
	}
	for _, k := range []string{"databaseUrl", "redisUrl", "mercurePublisherJwtKey", "mercureSubscriberJwtKey"} {
		if !run.outputs[k].Secret || run.outputs[k].Value == "" {
			t.Errorf("output %s holds a password or key and must be secret (and set)", k)
		}
	}
	if s, _ := run.outputs["databaseUrl"].Value.(string); !strings.HasPrefix(s, "mysql://sudoku_user:") || !strings.HasSuffix(s, "@db:3306/sudoku?serverVersion=8.4.0&charset=utf8mb4") {
		t.Errorf("databaseUrl = %q", s)
	}
	containers, _ := run.outputs["containers"].Value.(map[string]any)
	for _, c := range []string{"db", "cache", "mercure", "app", "lb"} {
		if containers[c] != "sudoku-local-"+c {
			t.Errorf("containers.%s = %v, want sudoku-local-%s", c, containers[c], c)
		}
	}
	assertNoSecretLeaks(t, run)
}

// assertNoSecretLeaks fails when a generated secret shows in plaintext anywhere: in a
// resource's inputs or in a stack output.
func assertNoSecretLeaks(t *testing.T, run *stackRun) {
	t.Helper()
	secrets := run.GeneratedSecrets()
	if len(secrets) == 0 {
		t.Fatal("the program generated no secrets; the leak check would pass vacuously")
	}
	for _, leak := range run.PlaintextLeaks() {
		t.Errorf("a generated secret is in plaintext at %s", leak)
	}
	for k, v := range run.outputs {
		if !v.Secret && mocks.ContainsSecret(mocks.Flatten(v.Value), secrets) {
			t.Errorf("stack output %s shows a generated secret in plaintext", k)
		}
	}
}

// No secret is in a container's configuration, which `docker inspect` shows to anyone who
// may use the engine: not even marked secret (encrypted in Pulumi's state, but plain in
// Docker's). The secrets go in as files, and the images' entrypoints read them.
func TestLocalSecretsStayOutOfContainerConfig(t *testing.T) {
	t.Parallel()
	run := mustRun(t, "local", nil)
	secrets := run.GeneratedSecrets()
	for _, c := range run.OfType("docker:index/container:Container") {
		for _, key := range []string{"envs", "command", "labels"} {
			if mocks.ContainsSecret(mocks.Flatten(plainValue(c.Inputs[mocks.Key(key)])), secrets) {
				t.Errorf("%s: a generated secret is in its %s", c.Name, key)
			}
		}
	}
	app := mocks.Flatten(plainValue(run.Named("docker:index/container:Container", "app-container").Inputs["envs"]))
	for _, name := range []string{"APP_SECRET", "DATABASE_URL", "REDIS_URL", "MERCURE_PUBLISHER_JWT_KEY", "MERCURE_SUBSCRIBER_JWT_KEY"} {
		if !strings.Contains(app, name+"_FILE=/run/secrets/") {
			t.Errorf("the app gets no %s_FILE", name)
		}
	}
}

// Every container is hardened: no privilege gain, every capability dropped but what the
// official database images' entrypoints need (they start as root and switch user), and a
// read-only root filesystem where nothing is uploaded into it.
func TestLocalContainersAreHardened(t *testing.T) {
	t.Parallel()
	run := mustRun(t, "local", nil)
	for _, c := range run.OfType("docker:index/container:Container") {
		if opts := mocks.Flatten(c.Inputs["securityOpts"].Mappable()); opts != "no-new-privileges:true" {
			t.Errorf("%s: securityOpts %q", c.Name, opts)
		}
		caps := c.Inputs["capabilities"].ObjectValue()
		if drops := mocks.Flatten(caps["drops"].Mappable()); drops != "ALL" {
			t.Errorf("%s: drops %q, want ALL", c.Name, drops)
		}
		adds := mocks.Flatten(caps["adds"].Mappable())
		switch c.Name {
		case "db-container", "cache-container":
			if adds != "CHOWN DAC_OVERRIDE FOWNER SETGID SETUID" {
				t.Errorf("%s: adds %q", c.Name, adds)
			}
		default:
			if adds != "" {
				t.Errorf("%s runs as its own user and needs no capability; adds %q", c.Name, adds)
			}
		}
		_, uploads := c.Inputs["uploads"]
		if readOnly := c.Inputs["readOnly"].IsBool() && c.Inputs["readOnly"].BoolValue(); readOnly == uploads {
			t.Errorf("%s: readOnly %v with uploads %v: read-only wherever nothing is uploaded (Docker refuses uploads then)", c.Name, readOnly, uploads)
		}
	}
	health := mocks.Flatten(run.Named("docker:index/container:Container", "cache-container").Inputs["healthcheck"].Mappable())
	if strings.Contains(health, " -a ") || !strings.Contains(health, "REDISCLI_AUTH=") {
		t.Errorf("the Redis health check must pass the password in REDISCLI_AUTH: %s", health)
	}
}

// plainValue is v as plain Go values, secrets unwrapped.
func plainValue(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return plainValue(v.SecretValue().Element)
	case v.IsOutput():
		return plainValue(v.OutputValue().Element)
	case v.IsArray():
		var out []any
		for _, e := range v.ArrayValue() {
			out = append(out, plainValue(e))
		}
		return out
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = plainValue(e)
		}
		return out
	}
	return v.V
}

// Containers start in dependency order: each waits for what it uses to be healthy.
func TestLocalStartOrder(t *testing.T) {
	t.Parallel()
	run := mustRun(t, "local", nil)
	after := map[string][]string{
		"app-container":     {"db-container", "cache-container", "mercure-container", "network-bridge"},
		"lb-container":      {"app-container", "mercure-container"},
		"db-container":      {"network-bridge", "db-data"},
		"cache-container":   {"network-bridge", "cache-data"},
		"mercure-container": {"network-bridge", "mercure-data"},
	}
	for name, deps := range after {
		c := run.Named("docker:index/container:Container", name)
		if c == nil {
			t.Fatalf("container %s is missing", name)
		}
		for _, d := range deps {
			if !run.DependsOn(c, d) {
				t.Errorf("%s does not wait for %s", name, d)
			}
		}
		if v := c.Inputs["wait"]; !v.IsBool() || !v.BoolValue() {
			t.Errorf("%s: pulumi up does not wait for it to be healthy", name)
		}
		if v := c.Inputs["restart"]; v.StringValue() != "unless-stopped" {
			t.Errorf("%s: restart = %v, want unless-stopped", name, v)
		}
	}
	// The hub needs neither MySQL nor Redis, and starts beside them (as docs/local-development.md says).
	hub := run.Named("docker:index/container:Container", "mercure-container")
	for _, d := range []string{"db-container", "cache-container"} {
		if run.DependsOn(hub, d) {
			t.Errorf("the hub waits for %s", d)
		}
	}
}

// Data volumes outlive `pulumi destroy` unless the stack asks otherwise.
func TestLocalVolumesSurviveDestroyByDefault(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		override string
		retained bool
	}{{"false", true}, {"true", false}} {
		run := mustRun(t, "local", map[string]string{"deleteVolumesOnDestroy": c.override})
		for _, v := range run.OfType("docker:index/volume:Volume") {
			if v.RetainOnDelete != c.retained {
				t.Errorf("deleteVolumesOnDestroy=%s: volume %s retainOnDelete = %v", c.override, v.Name, v.RetainOnDelete)
			}
		}
	}
}

func TestLocalConfigReachesContainers(t *testing.T) {
	t.Parallel()
	run := mustRun(t, "local", map[string]string{
		"httpPort": "9090", "dbHostPort": "13306", "redisHostPort": "16379", "hostIp": "0.0.0.0",
		"xdebugMode": "debug,develop", "phpMemoryMb": "768", "mercureCorsOrigins": `["https://example.com"]`,
		"mountAppSource": "true", "appEnv": "test", "phpVersion": "8.3",
	})
	port := func(container string) (int, string) {
		c := run.Named("docker:index/container:Container", container)
		ports := c.Inputs["ports"].ArrayValue()
		if len(ports) != 1 {
			t.Fatalf("%s publishes %d ports, want 1", container, len(ports))
		}
		p := ports[0].ObjectValue()
		return int(p["external"].NumberValue()), p["ip"].StringValue()
	}
	for container, want := range map[string]int{"lb-container": 9090, "db-container": 13306, "cache-container": 16379} {
		if got, ip := port(container); got != want || ip != "0.0.0.0" {
			t.Errorf("%s publishes %s:%d, want 0.0.0.0:%d", container, ip, got, want)
		}
	}
	app := run.Named("docker:index/container:Container", "app-container")
	env := mocks.Flatten(app.Inputs["envs"].Mappable())
	for _, want := range []string{"XDEBUG_MODE=debug,develop", "APP_ENV=test", "MERCURE_PUBLIC_URL=http://localhost:9090/.well-known/mercure"} {
		if !strings.Contains(env, want) {
			t.Errorf("app env lacks %s: %s", want, env)
		}
	}
	build := mocks.Flatten(run.Named("docker:index/image:Image", "app-image").Inputs["build"].Mappable())
	if !strings.Contains(build, "PHP_VERSION=8.3") {
		t.Errorf("phpVersion 8.3 did not reach the app image's build: %s", build)
	}
	if m := app.Inputs["memory"].NumberValue(); m != 768 {
		t.Errorf("app memory = %v, want 768", m)
	}
	if vols := mocks.Flatten(app.Inputs["volumes"].Mappable()); !strings.Contains(vols, "/var/www/html") {
		t.Errorf("mountAppSource=true did not mount the source: %s", vols)
	}
	mercure := mocks.Flatten(run.Named("docker:index/container:Container", "mercure-container").Inputs["envs"].Mappable())
	if !strings.Contains(mercure, "MERCURE_CORS_ORIGINS=http://localhost:9090 https://example.com") {
		t.Errorf("mercure CORS origins: %s", mercure)
	}
}

// Nothing that only a stack file gives may be missing from a stack without one: the
// committed stack files load and build (production with the images its deploy workflow
// gives it).
func TestCommittedStackFilesLoad(t *testing.T) {
	t.Parallel()
	for stack, overrides := range map[string]map[string]string{"local": nil, "staging": nil, "production": promoted} {
		if _, err := mocks.StackConfig(".", stack); err != nil {
			t.Errorf("Pulumi.%s.yaml: %v", stack, err)
		}
		mustRun(t, stack, overrides)
	}
}

// promoted is what production's deploy workflow sets: the images staging runs.
var promoted = map[string]string{
	"appImage":     "123456789012.dkr.ecr.eu-central-1.amazonaws.com/sudoku-staging-app@sha256:" + strings.Repeat("a", 64),
	"mercureImage": "123456789012.dkr.ecr.eu-central-1.amazonaws.com/sudoku-staging-mercure@sha256:" + strings.Repeat("b", 64),
}

func TestInvalidConfigFailsBeforeAnyResource(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		overrides map[string]string
		want      []string // every fragment must be in the error
	}{
		{"unknown target", map[string]string{"target": "kubernetes"}, []string{"sudoku:target", "docker, aws", `"kubernetes"`}},
		{"port out of range", map[string]string{"httpPort": "70000"}, []string{"sudoku:httpPort", "1 to 65535"}},
		{"port not a number", map[string]string{"httpPort": "eighty"}, []string{"sudoku:httpPort", `"eighty"`}},
		{"negative memory", map[string]string{"dbMemoryMb": "-512"}, []string{"sudoku:dbMemoryMb", "512 to 65536"}},
		{"missing app path", map[string]string{"appPath": "no/such/app"}, []string{"sudoku:appPath", "existing directory", "no/such/app"}},
		{"bad xdebug mode", map[string]string{"xdebugMode": "verbose"}, []string{"sudoku:xdebugMode", "develop"}},
		{"xdebug in production", map[string]string{"phpTarget": "production", "xdebugMode": "debug"}, []string{"sudoku:xdebugMode", "production"}},
		{"bad php target", map[string]string{"phpTarget": "staging"}, []string{"sudoku:phpTarget", "development, production"}},
		{"bad host ip", map[string]string{"hostIp": "localhost"}, []string{"sudoku:hostIp", "IPv4"}},
		{"redis above its container", map[string]string{"redisMaxMemoryMb": "512"}, []string{"sudoku:cacheMemoryMb", "redisMaxMemoryMb"}},
		{"two keys one port", map[string]string{"dbHostPort": "8080"}, []string{"sudoku:dbHostPort", "httpPort"}},
		{"bad origin", map[string]string{"mercureCorsOrigins": `["example.com/path"]`}, []string{"sudoku:mercureCorsOrigins", "https://example.com"}},
		{"origins not a list", map[string]string{"mercureCorsOrigins": `https://example.com`}, []string{"sudoku:mercureCorsOrigins", "list"}},
		{"bad boolean", map[string]string{"mountAppSource": "maybe"}, []string{"sudoku:mountAppSource", "true or false"}},
		{"bad app env", map[string]string{"appEnv": "staging"}, []string{"sudoku:appEnv", "dev, test, prod"}},
		{"php version", map[string]string{"phpVersion": "7.4"}, []string{"sudoku:phpVersion", "8.2, 8.3, 8.4", `"7.4"`}},
		{"short wait", map[string]string{"waitTimeout": "5"}, []string{"sudoku:waitTimeout", "30 to 3600"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run, err := runStack(t, "local", c.overrides)
			if err == nil {
				t.Fatal("the program accepted the config")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			if n := len(run.Resources()); n != 0 {
				t.Errorf("%d resources were registered before the config was rejected", n)
			}
		})
	}
}

// Every mistake is reported at once, not one per run.
func TestInvalidConfigReportsEveryKey(t *testing.T) {
	t.Parallel()
	_, err := runStack(t, "local", map[string]string{"httpPort": "0", "dbMemoryMb": "1", "target": "x"})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, k := range []string{"sudoku:httpPort", "sudoku:dbMemoryMb", "sudoku:target"} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error does not mention %s:\n%v", k, err)
		}
	}
}

func TestGoldenStaging(t *testing.T) {
	parallelUnlessUpdating(t)
	mocks.AssertGolden(t, "testdata/staging.golden", mocks.Render(mustRun(t, "staging", nil).Monitor))
}

// Whatever the program protects or retains holds data; the destructive-change guard must
// know its type, or a pull request could replace it unnoticed.
func TestGuardKnowsEveryStatefulType(t *testing.T) {
	t.Parallel()
	for stack, overrides := range map[string]map[string]string{"local": nil, "staging": nil, "production": promoted} {
		for _, r := range mustRun(t, stack, overrides).Resources() {
			if (r.Protect || r.RetainOnDelete) && guard.Stateful[r.Type] == "" {
				t.Errorf("%s: %s %s is protected or retained, but the guard does not list its type", stack, r.Type, r.Name)
			}
		}
	}
}

// The release command suits the app: Doctrine's migrations for a Symfony app, the stand-in's
// bin/release, or what the stack sets; locally it runs in the app container before the
// servers.
func TestReleaseCommand(t *testing.T) {
	t.Parallel()
	symfony := t.TempDir()
	if err := os.MkdirAll(filepath.Join(symfony, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(symfony, "bin", "console"), []byte("<?php\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		overrides map[string]string
		want      string
	}{
		{nil, "php bin/release"},
		{map[string]string{"appPath": symfony}, components.DoctrineMigrate},
		{map[string]string{"appPath": t.TempDir()}, ""},
		{map[string]string{"releaseCommand": ""}, ""},
		{map[string]string{"releaseCommand": "php bin/console app:release"}, "php bin/console app:release"},
	} {
		app := mustRun(t, "local", c.overrides).Named("docker:index/container:Container", "app-container")
		env := map[string]bool{}
		for _, e := range app.Inputs["envs"].ArrayValue() {
			env[e.StringValue()] = true
		}
		if !env["RELEASE_COMMAND="+c.want] || !env["RELEASE_ON_START=1"] {
			t.Errorf("%v: the app container's environment lacks RELEASE_COMMAND=%s and RELEASE_ON_START=1", c.overrides, c.want)
		}
	}
}
