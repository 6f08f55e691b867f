package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/sudoku/infra/components"
)

// Config is the whole validated configuration of a stack. loadConfig builds it before any
// resource exists.
type Config struct {
	// Target is where the stack runs: "docker" or "aws".
	Target string
	// AppPath is the app's source, the PHP image's build context.
	AppPath string
	// AppEnv is Symfony's APP_ENV.
	AppEnv string
	// MercureCorsOrigins are extra origins allowed to subscribe; empty means the stack's own.
	MercureCorsOrigins []string

	Local LocalConfig
}

// LocalConfig is what only the docker target reads.
type LocalConfig struct {
	HostIP                 string
	HTTPPort               int
	DBHostPort             int
	RedisHostPort          int
	PhpTarget              string
	XdebugMode             string
	MountAppSource         bool
	DeleteVolumesOnDestroy bool
	WaitTimeout            int
	DBMemoryMb             int
	CacheMemoryMb          int
	RedisMaxMemoryMb       int
	MercureMemoryMb        int
	PhpMemoryMb            int
	ProxyMemoryMb          int
}

// Config keys, their types and defaults. Pulumi.yaml declares the same keys (a test holds the
// two together), and the README's config table is generated from this list.
type configKey struct {
	name   string
	typ    string // "string", "integer", "boolean" or "array" (of strings), as in Pulumi.yaml
	def    any    // string, int, bool or []string
	target string // "all", "docker" or "aws": who reads it
	desc   string
}

var configKeys = []configKey{
	{"target", "string", "docker", "all", "Where the stack runs: `docker` (local) or `aws` (staging)."},
	{"appPath", "string", "app", "all", "The app's source directory, the PHP image's build context. The default is the stand-in app in this repo."},
	{"appEnv", "string", "dev", "all", "Symfony's APP_ENV: `dev`, `test` or `prod`."},
	{"mercureCorsOrigins", "array", []string{}, "all", "Extra origins (like `https://example.com`) allowed to subscribe to the hub. The stack's own origin is always allowed."},

	{"hostIp", "string", "127.0.0.1", "docker", "Host address that published ports bind to. `0.0.0.0` exposes them to your network."},
	{"httpPort", "integer", 8080, "docker", "Host port of the local entry point (app and Mercure)."},
	{"dbHostPort", "integer", 0, "docker", "Host port for MySQL, for a GUI client; `0` publishes none."},
	{"redisHostPort", "integer", 0, "docker", "Host port for Redis; `0` publishes none."},
	{"phpTarget", "string", "development", "docker", "Stage of docker/php/Dockerfile to run: `development` (with Xdebug) or `production`."},
	{"xdebugMode", "string", "off", "docker", "XDEBUG_MODE: `off`, or a comma-separated list of `develop`, `coverage`, `debug`, `gcstats`, `profile`, `trace`."},
	{"mountAppSource", "boolean", false, "docker", "Bind-mount appPath into the app container for live edits."},
	{"deleteVolumesOnDestroy", "boolean", false, "docker", "Let `pulumi destroy` delete the data volumes too (like `docker compose down -v`)."},
	{"waitTimeout", "integer", 300, "docker", "Seconds a container may take to become healthy before `pulumi up` fails."},
	{"dbMemoryMb", "integer", 1024, "docker", "Memory limit of the MySQL container, in MiB (at least 256)."},
	{"cacheMemoryMb", "integer", 256, "docker", "Memory limit of the Redis container, in MiB; above redisMaxMemoryMb."},
	{"redisMaxMemoryMb", "integer", 128, "docker", "Redis `maxmemory`, in MiB."},
	{"mercureMemoryMb", "integer", 128, "docker", "Memory limit of the Mercure container, in MiB (at least 32)."},
	{"phpMemoryMb", "integer", 512, "docker", "Memory limit of the app container, in MiB (at least 64)."},
	{"proxyMemoryMb", "integer", 64, "docker", "Memory limit of the reverse-proxy container, in MiB (at least 16)."},
}

func lookupKey(name string) configKey {
	for _, k := range configKeys {
		if k.name == name {
			return k
		}
	}
	panic("config key not declared in configKeys: " + name)
}

// reader reads typed values with their declared defaults and collects every error, so that
// one run reports all that is wrong.
type reader struct {
	project string
	get     func(key string) (string, error)
	errs    []error
}

func newReader(ctx *pulumi.Context) *reader {
	cfg := config.New(ctx, "")
	return &reader{project: ctx.Project(), get: cfg.Try}
}

// fail records that key's value is not allowed.
func (r *reader) fail(key, allowed string, got any) {
	r.errs = append(r.errs, fmt.Errorf("%s:%s must be %s; got %v", r.project, key, allowed, got))
}

func (r *reader) raw(key string) (string, bool) {
	v, err := r.get(key)
	if err != nil {
		if !errors.Is(err, config.ErrMissingVar) {
			r.errs = append(r.errs, fmt.Errorf("%s:%s: %w", r.project, key, err))
		}
		return "", false
	}
	return v, true
}

func (r *reader) str(key string) string {
	def := lookupKey(key).def.(string)
	if v, ok := r.raw(key); ok {
		return strings.TrimSpace(v)
	}
	return def
}

func (r *reader) oneOf(key string, allowed ...string) string {
	v := r.str(key)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(key, "one of "+strings.Join(allowed, ", "), strconv.Quote(v))
	return v
}

func (r *reader) integer(key string, min, max int) int {
	def := lookupKey(key).def.(int)
	v, ok := r.raw(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < min || n > max {
		r.fail(key, fmt.Sprintf("a whole number from %d to %d", min, max), strconv.Quote(v))
	}
	return n
}

func (r *reader) port(key string, allowZero bool) int {
	v, ok := r.raw(key)
	def := lookupKey(key).def.(int)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 || n > 65535 || (n == 0 && !allowZero) {
		allowed := "a port from 1 to 65535"
		if allowZero {
			allowed = "0 (not published) or a port from 1 to 65535"
		}
		r.fail(key, allowed, strconv.Quote(v))
	}
	return n
}

func (r *reader) boolean(key string) bool {
	def := lookupKey(key).def.(bool)
	v, ok := r.raw(key)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		r.fail(key, "true or false", strconv.Quote(v))
	}
	return b
}

func (r *reader) list(key string) []string {
	def := lookupKey(key).def.([]string)
	v, ok := r.raw(key)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	var out []string
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		r.fail(key, "a list of strings", strconv.Quote(v))
	}
	return out
}

func (r *reader) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	msgs := make([]string, len(r.errs))
	for i, e := range r.errs {
		msgs[i] = "  " + e.Error()
	}
	return fmt.Errorf("invalid stack configuration (nothing was changed):\n%s", strings.Join(msgs, "\n"))
}

// loadConfig reads and validates every key, whichever target the stack has, so that a
// mistake is reported before any resource is created.
func loadConfig(ctx *pulumi.Context) (*Config, error) {
	r := newReader(ctx)
	c := &Config{
		Target:             r.oneOf("target", "docker", "aws"),
		AppPath:            r.str("appPath"),
		AppEnv:             r.oneOf("appEnv", "dev", "test", "prod"),
		MercureCorsOrigins: r.list("mercureCorsOrigins"),
	}
	if info, err := os.Stat(c.AppPath); c.AppPath == "" || err != nil || !info.IsDir() {
		r.fail("appPath", "an existing directory with the app's source", strconv.Quote(c.AppPath))
	}
	for _, o := range c.MercureCorsOrigins {
		if !components.ValidOrigin(o) {
			r.fail("mercureCorsOrigins", "a list of origins like https://example.com (scheme, host and port only)", strconv.Quote(o))
		}
	}
	c.Local = loadLocalConfig(r)
	return c, r.err()
}

func loadLocalConfig(r *reader) LocalConfig {
	l := LocalConfig{
		HostIP:                 r.str("hostIp"),
		HTTPPort:               r.port("httpPort", false),
		DBHostPort:             r.port("dbHostPort", true),
		RedisHostPort:          r.port("redisHostPort", true),
		PhpTarget:              r.oneOf("phpTarget", "development", "production"),
		XdebugMode:             r.str("xdebugMode"),
		MountAppSource:         r.boolean("mountAppSource"),
		DeleteVolumesOnDestroy: r.boolean("deleteVolumesOnDestroy"),
		WaitTimeout:            r.integer("waitTimeout", 30, 3600),
		DBMemoryMb:             r.integer("dbMemoryMb", 256, 65536),
		CacheMemoryMb:          r.integer("cacheMemoryMb", 16, 65536),
		RedisMaxMemoryMb:       r.integer("redisMaxMemoryMb", 1, 65536),
		MercureMemoryMb:        r.integer("mercureMemoryMb", 32, 65536),
		PhpMemoryMb:            r.integer("phpMemoryMb", 64, 65536),
		ProxyMemoryMb:          r.integer("proxyMemoryMb", 16, 65536),
	}
	if ip := net.ParseIP(l.HostIP); ip == nil || ip.To4() == nil {
		r.fail("hostIp", "an IPv4 address such as 127.0.0.1 or 0.0.0.0", strconv.Quote(l.HostIP))
	}
	if !components.ValidXdebugMode(l.XdebugMode) {
		r.fail("xdebugMode", "off, or a comma-separated list of develop, coverage, debug, gcstats, profile, trace", strconv.Quote(l.XdebugMode))
	} else if l.PhpTarget == "production" && l.XdebugMode != "off" {
		r.fail("xdebugMode", "off when phpTarget is production (that image has no Xdebug)", strconv.Quote(l.XdebugMode))
	}
	if l.CacheMemoryMb <= l.RedisMaxMemoryMb {
		r.fail("cacheMemoryMb", fmt.Sprintf("above redisMaxMemoryMb (%d), for Redis's own overhead", l.RedisMaxMemoryMb), l.CacheMemoryMb)
	}
	seen := map[int]string{}
	for _, p := range []struct {
		key  string
		port int
	}{{"httpPort", l.HTTPPort}, {"dbHostPort", l.DBHostPort}, {"redisHostPort", l.RedisHostPort}} {
		if p.port == 0 {
			continue
		}
		if other, dup := seen[p.port]; dup {
			r.fail(p.key, "a host port no other key uses ("+other+" has it)", p.port)
		}
		seen[p.port] = p.key
	}
	return l
}
