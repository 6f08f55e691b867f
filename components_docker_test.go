package main

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/sudoku/infra/components"
	"github.com/sudoku/infra/internal/mocks"
)

// componentRun runs body, a test's use of the components, on the mock engine as stack "test"
// of project "sudoku" (no stack file, no config).
func componentRun(t *testing.T, body func(ctx *pulumi.Context) error) (*mocks.Monitor, error) {
	t.Helper()
	return mocks.Run("sudoku", "test", nil, body)
}

// mustRunComponent is componentRun, failing the test if body fails.
func mustRunComponent(t *testing.T, body func(ctx *pulumi.Context) error) *mocks.Monitor {
	t.Helper()
	m, err := componentRun(t, body)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dockerRuntime is a network for the Docker component tests.
func dockerRuntime(ctx *pulumi.Context) (components.DockerRuntime, error) {
	n, err := components.NewDockerNetwork(ctx, "net", nil)
	return components.DockerRuntime{Network: n}, err
}

// awaitSecret fails the test unless o resolves to a secret.
func awaitSecret(t *testing.T, ctx *pulumi.Context, what string, o pulumi.Output) string {
	t.Helper()
	a, err := mocks.Await(ctx, o)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !a.Secret {
		t.Errorf("%s is not secret", what)
	}
	s, _ := a.Value.(string)
	return s
}

// assertChildrenOf checks that the component's children are named after it and that what
// is named after it is its child, so that two instances never collide.
func assertChildrenOf(t *testing.T, m *mocks.Monitor, componentType, name string) {
	t.Helper()
	comp := m.Named("sudoku:components:"+componentType, name)
	if comp == nil {
		t.Fatalf("component %s %s is missing", componentType, name)
	}
	children := 0
	for _, r := range m.Resources() {
		named, child := strings.HasPrefix(r.Name, name+"-"), r.Parent == comp.URN
		if child {
			children++
		}
		if named && !child {
			t.Errorf("%s %s is not parented to the component", r.Type, r.Name)
		}
		if child && !named {
			t.Errorf("%s %s is not named %s-<suffix>", r.Type, r.Name, name)
		}
	}
	if children == 0 {
		t.Errorf("component %s has no children", name)
	}
}

func inputString(m *mocks.Monitor, typ, name, key string) string {
	r := m.Named(typ, name)
	if r == nil {
		return ""
	}
	return mocks.Flatten(r.Inputs[mocks.Key(key)].Mappable())
}

func TestDockerDatabase(t *testing.T) {
	t.Parallel()
	var password, url string
	m := mustRunComponent(t, func(ctx *pulumi.Context) error {
		rt, err := dockerRuntime(ctx)
		if err != nil {
			return err
		}
		db, err := components.NewDockerDatabase(ctx, "db", &components.DockerDatabaseArgs{Runtime: rt, HostPort: 3307})
		if err != nil {
			return err
		}
		password = awaitSecret(t, ctx, "Password", db.Password)
		url = awaitSecret(t, ctx, "URL", db.URL)
		awaitSecret(t, ctx, "URLSecret.Value", db.URLSecret.Value)
		return nil
	})
	assertChildrenOf(t, m, "Database", "db")
	if want := "mysql://sudoku_user:" + password + "@db:3306/sudoku?serverVersion=8.4.0&charset=utf8mb4"; url != want {
		t.Errorf("URL = %q, want %q", url, want)
	}
	if n := len(m.OfType("random:index/randomPassword:RandomPassword")); n != 2 {
		t.Errorf("want a user and a root password, got %d passwords", n)
	}
	c := m.Named("docker:index/container:Container", "db-container")
	if got := c.Inputs["name"].StringValue(); got != "sudoku-test-db" {
		t.Errorf("container name %q", got)
	}
	env := inputString(m, "docker:index/container:Container", "db-container", "envs")
	for _, want := range []string{"MYSQL_DATABASE=sudoku", "MYSQL_USER=sudoku_user", "MYSQL_PASSWORD_FILE=/run/secrets/mysql-password"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s", want)
		}
	}
	if strings.Contains(env, "MYSQL_PASSWORD=") || strings.Contains(env, "MYSQL_ROOT_PASSWORD=") {
		t.Error("a password is in the container's environment; it belongs in a file")
	}
	if hc := inputString(m, "docker:index/container:Container", "db-container", "healthcheck"); !strings.Contains(hc, "mysqladmin ping") {
		t.Errorf("health check %q", hc)
	}
	if v := inputString(m, "docker:index/container:Container", "db-container", "volumes"); !strings.Contains(v, "volumeName=sudoku-test-db-data") || !strings.Contains(v, "/var/lib/mysql") {
		t.Errorf("data volume not mounted: %s", v)
	}
	if p := inputString(m, "docker:index/container:Container", "db-container", "ports"); p != "external=3307 internal=3306 ip=127.0.0.1" {
		t.Errorf("ports = %q", p)
	}
	if !m.Named("docker:index/volume:Volume", "db-data").RetainOnDelete {
		t.Error("the data volume does not survive destroy")
	}
	for _, leak := range m.PlaintextLeaks() {
		t.Errorf("plaintext secret at %s", leak)
	}
}

func TestDockerCache(t *testing.T) {
	t.Parallel()
	var password, url string
	m := mustRunComponent(t, func(ctx *pulumi.Context) error {
		rt, err := dockerRuntime(ctx)
		if err != nil {
			return err
		}
		c, err := components.NewDockerCache(ctx, "cache", &components.DockerCacheArgs{Runtime: rt, MaxMemoryMb: 64, MemoryMb: 96})
		if err != nil {
			return err
		}
		password = awaitSecret(t, ctx, "Password", c.Password)
		url = awaitSecret(t, ctx, "URL", c.URL)
		return nil
	})
	assertChildrenOf(t, m, "Cache", "cache")
	if want := "redis://default:" + password + "@cache:6379"; url != want {
		t.Errorf("URL = %q, want %q", url, want)
	}
	if cmd := inputString(m, "docker:index/container:Container", "cache-container", "command"); !strings.HasSuffix(cmd, "--maxmemory 64mb") {
		t.Errorf("command = %q", cmd)
	}
	if ports := inputString(m, "docker:index/container:Container", "cache-container", "ports"); ports != "" {
		t.Errorf("Redis is published (%s) though HostPort is 0", ports)
	}
	for _, leak := range m.PlaintextLeaks() {
		t.Errorf("plaintext secret at %s", leak)
	}
}

func TestDockerMercureHub(t *testing.T) {
	t.Parallel()
	var internal string
	m := mustRunComponent(t, func(ctx *pulumi.Context) error {
		rt, err := dockerRuntime(ctx)
		if err != nil {
			return err
		}
		h, err := components.NewDockerMercureHub(ctx, "mercure", &components.DockerMercureHubArgs{Runtime: rt, CorsOrigins: []string{"http://localhost:8080", "https://example.com/"}})
		if err != nil {
			return err
		}
		awaitSecret(t, ctx, "PublisherJWTKey", h.PublisherJWTKey)
		awaitSecret(t, ctx, "SubscriberJWTKey", h.SubscriberJWTKey)
		a, err := mocks.Await(ctx, h.InternalURL)
		internal, _ = a.Value.(string)
		return err
	})
	assertChildrenOf(t, m, "MercureHub", "mercure")
	if internal != "http://mercure:3000/.well-known/mercure" {
		t.Errorf("InternalURL = %q", internal)
	}
	env := inputString(m, "docker:index/container:Container", "mercure-container", "envs")
	if !strings.Contains(env, "MERCURE_CORS_ORIGINS=http://localhost:8080 https://example.com") {
		t.Errorf("CORS origins not passed: %s", env)
	}
	if hc := inputString(m, "docker:index/container:Container", "mercure-container", "healthcheck"); !strings.Contains(hc, "/healthz") {
		t.Errorf("health check %q", hc)
	}
	if v := inputString(m, "docker:index/container:Container", "mercure-container", "volumes"); !strings.Contains(v, "sudoku-test-mercure-data") {
		t.Errorf("Bolt volume not mounted: %s", v)
	}
	for _, leak := range m.PlaintextLeaks() {
		t.Errorf("plaintext secret at %s", leak)
	}
}

// newDockerComponentStack builds network, database, cache and hub, for the components that use them.
func newDockerComponentStack(ctx *pulumi.Context) (components.DockerRuntime, components.PhpEnv, error) {
	rt, err := dockerRuntime(ctx)
	if err != nil {
		return rt, components.PhpEnv{}, err
	}
	db, err := components.NewDockerDatabase(ctx, "db", &components.DockerDatabaseArgs{Runtime: rt})
	if err != nil {
		return rt, components.PhpEnv{}, err
	}
	cache, err := components.NewDockerCache(ctx, "cache", &components.DockerCacheArgs{Runtime: rt})
	if err != nil {
		return rt, components.PhpEnv{}, err
	}
	hub, err := components.NewDockerMercureHub(ctx, "mercure", &components.DockerMercureHubArgs{Runtime: rt, CorsOrigins: []string{"http://localhost:8080"}})
	if err != nil {
		return rt, components.PhpEnv{}, err
	}
	return rt, components.PhpEnv{AppEnv: "dev", Database: db, Cache: cache, Mercure: hub, MercurePublicURL: pulumi.String("http://localhost:8080/.well-known/mercure")}, nil
}

func TestDockerPhpServiceAndLoadBalancer(t *testing.T) {
	t.Parallel()
	var url string
	m := mustRunComponent(t, func(ctx *pulumi.Context) error {
		rt, env, err := newDockerComponentStack(ctx)
		if err != nil {
			return err
		}
		app, err := components.NewDockerPhpService(ctx, "app", &components.DockerPhpServiceArgs{Runtime: rt, AppPath: "app", Dockerfile: "docker/php/Dockerfile", Env: env})
		if err != nil {
			return err
		}
		lb, err := components.NewDockerLoadBalancer(ctx, "lb", &components.DockerLoadBalancerArgs{Runtime: rt, HostPort: 8081, App: app, Mercure: env.Mercure})
		if err != nil {
			return err
		}
		a, err := mocks.Await(ctx, lb.URL)
		url, _ = a.Value.(string)
		return err
	})
	if url != "http://localhost:8081" {
		t.Errorf("URL = %q", url)
	}
	env := inputString(m, "docker:index/container:Container", "app-container", "envs")
	for _, want := range []string{"APP_ENV=dev", "MERCURE_URL=http://mercure:3000/.well-known/mercure", "XDEBUG_MODE=off",
		"DATABASE_URL_FILE=/run/secrets/database-url", "REDIS_URL_FILE=/run/secrets/redis-url", "APP_SECRET_FILE=/run/secrets/app-secret"} {
		if !strings.Contains(env, want) {
			t.Errorf("app env lacks %s", want)
		}
	}
	uploads := inputString(m, "docker:index/container:Container", "app-container", "uploads")
	for _, want := range []string{"file=/run/secrets/database-url", "mysql://sudoku_user:", "file=/run/secrets/redis-url", "redis://default:"} {
		if !strings.Contains(uploads, want) {
			t.Errorf("app uploads lack %s: %s", want, uploads)
		}
	}
	// The image builds from docker/php, with the app's source as an image of its own.
	build := inputString(m, "docker:index/image:Image", "app-image", "build")
	for _, want := range []string{"APP_SOURCE=sudoku-test-app-source:local", "context=docker/php", "dockerfile=docker/php/Dockerfile", "target=development"} {
		if !strings.Contains(build, want) {
			t.Errorf("app image build lacks %s: %s", want, build)
		}
	}
	source := inputString(m, "docker:index/image:Image", "app-source-image", "build")
	for _, want := range []string{"context=app", "dockerfile=docker/php/source.Dockerfile"} {
		if !strings.Contains(source, want) {
			t.Errorf("app source image build lacks %s: %s", want, source)
		}
	}
	if r := m.Named("docker:index/image:Image", "app-image"); !m.DependsOn(r, "app-source-image") {
		t.Error("the app image is not built after the image of the app's source it copies")
	}
	lbEnv := inputString(m, "docker:index/container:Container", "lb-container", "envs")
	if !strings.Contains(lbEnv, "APP_UPSTREAM=sudoku-test-app:8080") || !strings.Contains(lbEnv, "MERCURE_UPSTREAM=sudoku-test-mercure:3000") {
		t.Errorf("proxy upstreams: %s", lbEnv)
	}
	for _, leak := range m.PlaintextLeaks() {
		t.Errorf("plaintext secret at %s", leak)
	}
}

func TestDockerArgsAreValidatedBeforeAnythingIsCreated(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		build func(ctx *pulumi.Context, rt components.DockerRuntime, env components.PhpEnv) error
		want  string
	}{
		{"db memory", func(ctx *pulumi.Context, rt components.DockerRuntime, _ components.PhpEnv) error {
			_, err := components.NewDockerDatabase(ctx, "x", &components.DockerDatabaseArgs{Runtime: rt, MemoryMb: 128})
			return err
		}, "database: MemoryMb must be at least 512"},
		{"db port", func(ctx *pulumi.Context, rt components.DockerRuntime, _ components.PhpEnv) error {
			_, err := components.NewDockerDatabase(ctx, "x", &components.DockerDatabaseArgs{Runtime: rt, HostPort: 70000})
			return err
		}, "database: HostPort must be 0 (not published)"},
		{"no network", func(ctx *pulumi.Context, _ components.DockerRuntime, _ components.PhpEnv) error {
			_, err := components.NewDockerCache(ctx, "x", &components.DockerCacheArgs{})
			return err
		}, "cache: Runtime.Network must be set"},
		{"redis maxmemory", func(ctx *pulumi.Context, rt components.DockerRuntime, _ components.PhpEnv) error {
			_, err := components.NewDockerCache(ctx, "x", &components.DockerCacheArgs{Runtime: rt, MemoryMb: 100, MaxMemoryMb: 100})
			return err
		}, "cache: MemoryMb must be above MaxMemoryMb"},
		{"cors origin", func(ctx *pulumi.Context, rt components.DockerRuntime, _ components.PhpEnv) error {
			_, err := components.NewDockerMercureHub(ctx, "x", &components.DockerMercureHubArgs{Runtime: rt, CorsOrigins: []string{"*"}})
			return err
		}, "mercure: CorsOrigins must be origins like"},
		{"app path", func(ctx *pulumi.Context, rt components.DockerRuntime, env components.PhpEnv) error {
			_, err := components.NewDockerPhpService(ctx, "x", &components.DockerPhpServiceArgs{Runtime: rt, AppPath: "nowhere", Env: env})
			return err
		}, `php: AppPath must be a directory with the app's source, got "nowhere"`},
		{"xdebug in production", func(ctx *pulumi.Context, rt components.DockerRuntime, env components.PhpEnv) error {
			_, err := components.NewDockerPhpService(ctx, "x", &components.DockerPhpServiceArgs{Runtime: rt, AppPath: "app", Target: "production", XdebugMode: "debug", Env: env})
			return err
		}, "php: XdebugMode must be off for the production target"},
		{"app env", func(ctx *pulumi.Context, rt components.DockerRuntime, env components.PhpEnv) error {
			env.AppEnv = "staging"
			_, err := components.NewDockerPhpService(ctx, "x", &components.DockerPhpServiceArgs{Runtime: rt, AppPath: "app", Env: env})
			return err
		}, "php: Env.AppEnv must be dev, test or prod"},
		{"lb upstreams", func(ctx *pulumi.Context, rt components.DockerRuntime, _ components.PhpEnv) error {
			_, err := components.NewDockerLoadBalancer(ctx, "x", &components.DockerLoadBalancerArgs{Runtime: rt})
			return err
		}, "loadbalancer: App and Mercure must be set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := componentRun(t, func(ctx *pulumi.Context) error {
				rt, env, err := newDockerComponentStack(ctx)
				if err != nil {
					return err
				}
				return c.build(ctx, rt, env)
			})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			for _, r := range m.Resources() {
				if strings.HasPrefix(r.Name, "x") {
					t.Errorf("%s %s was registered before the args were rejected", r.Type, r.Name)
				}
			}
		})
	}
}

// Two instances of a component must not collide: every child is named after its component.
// The same name twice is refused, as the engine refuses a duplicate URN.
func TestComponentNamesDoNotCollide(t *testing.T) {
	t.Parallel()
	twoCaches := func(first, second string) func(ctx *pulumi.Context) error {
		return func(ctx *pulumi.Context) error {
			rt, err := dockerRuntime(ctx)
			if err != nil {
				return err
			}
			if _, err := components.NewDockerCache(ctx, first, &components.DockerCacheArgs{Runtime: rt}); err != nil {
				return err
			}
			_, err = components.NewDockerCache(ctx, second, &components.DockerCacheArgs{Runtime: rt})
			return err
		}
	}
	mustRunComponent(t, twoCaches("sessions", "pool"))
	_, err := componentRun(t, twoCaches("twice", "twice"))
	if err == nil || !strings.Contains(err.Error(), "duplicate resource URN") {
		t.Errorf("a duplicate component name was accepted: %v", err)
	}
}
