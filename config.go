package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
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
	// PhpVersion is the app image's PHP version.
	PhpVersion string
	// MercureCorsOrigins are extra origins allowed to subscribe; empty means the stack's own.
	MercureCorsOrigins []string
	// ReleaseCommand is what the release step runs ("auto" resolved; "" for none).
	ReleaseCommand string

	Local LocalConfig
	Aws   AwsConfig
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

// AwsConfig is what only the aws target reads.
type AwsConfig struct {
	Tier                  string
	AppImage              string
	MercureImage          string
	EcrReaderAccounts     []string
	Region                string
	Protect               bool
	VpcCidr               string
	AzCount               int
	NatGateways           string
	DomainName            string
	HostedZoneID          string
	CertificateArn        string
	AllowHTTPOnly         bool
	AlbSslPolicy          string
	AlbDeletionProtection bool
	AlbIdleTimeout        int
	Waf                   bool
	WafRateLimit          int
	EcsExec               bool
	ContainerInsights     bool
	PhpCPU                int
	PhpMemory             int
	PhpMinTasks           int
	PhpMaxTasks           int
	PhpCPUTarget          int
	PhpMemoryTarget       int
	MercureCPU            int
	MercureMemory         int
	DBEngineVersion       string
	DBInstanceClass       string
	DBMinAcu              float64
	DBMaxAcu              float64
	DBAutoPauseMinutes    int
	PhpCapacity           string
	PhpOnDemandTasks      int
	CPUArchitecture       string
	DBInstances           int
	DBBackupRetentionDays int
	DBFinalSnapshot       bool
	DBRestoreSnapshot     string
	CacheNodeType         string
	CacheEngineVersion    string
	CacheReplica          bool
	LogRetentionDays      int
	AlarmEmails           []string
	Alarms                AlarmThresholds
}

// AlarmThresholds are the points at which staging's alarms notify.
type AlarmThresholds struct {
	HTTP5xxPercent     int
	LatencyP95Ms       int
	CPUPercent         int
	MemoryPercent      int
	DBFreeableMemoryMb int
	DBReplicaLagMs     int
	RedisEvictions     int
}

// Config keys, their types and defaults, and which target reads each. Pulumi.yaml declares
// the same keys with the same types and defaults (a test holds the two together), and their
// descriptions; docs/configuration.md's table is generated from the two (make golden).
type configKey struct {
	name   string
	typ    string // "string", "integer", "boolean" or "array" (of strings), as in Pulumi.yaml
	def    any    // string, int, bool or []string
	target string // "all", "docker" or "aws": who reads it
}

var configKeys = []configKey{
	{"target", "string", "docker", "all"},
	{"appPath", "string", "app", "all"},
	{"appEnv", "string", "dev", "all"},
	{"phpVersion", "string", "8.2", "all"},
	{"mercureCorsOrigins", "array", []string{}, "all"},
	{"releaseCommand", "string", "auto", "all"},

	{"hostIp", "string", "127.0.0.1", "docker"},
	{"httpPort", "integer", 8080, "docker"},
	{"dbHostPort", "integer", 0, "docker"},
	{"redisHostPort", "integer", 0, "docker"},
	{"phpTarget", "string", "development", "docker"},
	{"xdebugMode", "string", "off", "docker"},
	{"mountAppSource", "boolean", false, "docker"},
	{"deleteVolumesOnDestroy", "boolean", false, "docker"},
	{"waitTimeout", "integer", 300, "docker"},
	{"dbMemoryMb", "integer", 1024, "docker"},
	{"cacheMemoryMb", "integer", 256, "docker"},
	{"redisMaxMemoryMb", "integer", 128, "docker"},
	{"mercureMemoryMb", "integer", 128, "docker"},
	{"phpMemoryMb", "integer", 512, "docker"},
	{"proxyMemoryMb", "integer", 64, "docker"},

	{"tier", "string", "production", "aws"},
	{"appImage", "string", "", "aws"},
	{"mercureImage", "string", "", "aws"},
	{"ecrReaderAccounts", "array", []string{}, "aws"},
	{"awsRegion", "string", "eu-central-1", "aws"},
	{"protect", "boolean", true, "aws"},
	{"vpcCidr", "string", "10.0.0.0/16", "aws"},
	{"azCount", "integer", 2, "aws"},
	{"natGateways", "string", "one-per-az", "aws"},
	{"domainName", "string", "", "aws"},
	{"hostedZoneId", "string", "", "aws"},
	{"certificateArn", "string", "", "aws"},
	{"allowHttpOnly", "boolean", false, "aws"},
	{"albSslPolicy", "string", "ELBSecurityPolicy-TLS13-1-2-2021-06", "aws"},
	{"albDeletionProtection", "boolean", true, "aws"},
	{"albIdleTimeout", "integer", 120, "aws"},
	{"waf", "boolean", true, "aws"},
	{"wafRateLimit", "integer", 1000, "aws"},
	{"ecsExec", "boolean", false, "aws"},
	{"containerInsights", "boolean", true, "aws"},
	{"phpCpu", "integer", 512, "aws"},
	{"phpMemory", "integer", 1024, "aws"},
	{"phpMinTasks", "integer", 2, "aws"},
	{"phpCapacity", "string", "on-demand", "aws"},
	{"phpOnDemandTasks", "integer", 1, "aws"},
	{"cpuArchitecture", "string", "x86_64", "aws"},
	{"phpMaxTasks", "integer", 6, "aws"},
	{"phpCpuTarget", "integer", 60, "aws"},
	{"phpMemoryTarget", "integer", 75, "aws"},
	{"mercureCpu", "integer", 256, "aws"},
	{"mercureMemory", "integer", 512, "aws"},
	{"dbEngineVersion", "string", components.DefaultAuroraVersion, "aws"},
	{"dbInstanceClass", "string", "db.t4g.medium", "aws"},
	{"dbMinAcu", "string", "0.5", "aws"},
	{"dbMaxAcu", "string", "4", "aws"},
	{"dbAutoPauseMinutes", "integer", 30, "aws"},
	{"dbInstances", "integer", 2, "aws"},
	{"dbBackupRetentionDays", "integer", 7, "aws"},
	{"dbFinalSnapshot", "boolean", true, "aws"},
	{"dbRestoreSnapshot", "string", "", "aws"},
	{"cacheNodeType", "string", "cache.t3.micro", "aws"},
	{"cacheEngineVersion", "string", "7.1", "aws"},
	{"cacheReplica", "boolean", true, "aws"},
	{"logRetentionDays", "integer", 365, "aws"},
	{"alarmEmails", "array", []string{}, "aws"},
	{"alarmHttp5xxPercent", "integer", 5, "aws"},
	{"alarmLatencyP95Ms", "integer", 1500, "aws"},
	{"alarmCpuPercent", "integer", 80, "aws"},
	{"alarmMemoryPercent", "integer", 85, "aws"},
	{"alarmDbFreeableMemoryMb", "integer", 256, "aws"},
	{"alarmDbReplicaLagMs", "integer", 1000, "aws"},
	{"alarmRedisEvictions", "integer", 100, "aws"},
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
	stack   string
	get     func(key string) (string, error)
	errs    []error
}

func newReader(ctx *pulumi.Context) *reader {
	cfg := config.New(ctx, "")
	return &reader{project: ctx.Project(), stack: ctx.Stack(), get: cfg.Try}
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

// acu reads a Serverless v2 capacity: a decimal from 0 to 256 in steps of 0.5.
func (r *reader) acu(key string) float64 {
	v := r.str(key)
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || !components.ValidAcu(n) {
		r.fail(key, "a capacity from 0 to 256 ACUs in steps of 0.5, such as 0.5 or 4", strconv.Quote(v))
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
		PhpVersion:         r.oneOf("phpVersion", components.PhpVersions...),
		MercureCorsOrigins: r.list("mercureCorsOrigins"),
		ReleaseCommand:     r.str("releaseCommand"),
	}
	if info, err := os.Stat(c.AppPath); c.AppPath == "" || err != nil || !info.IsDir() {
		r.fail("appPath", "an existing directory with the app's source", strconv.Quote(c.AppPath))
	}
	if c.ReleaseCommand == "auto" {
		c.ReleaseCommand = components.ReleaseCommandFor(c.AppPath)
	}
	for _, o := range c.MercureCorsOrigins {
		if !components.ValidOrigin(o) {
			r.fail("mercureCorsOrigins", "a list of origins like https://example.com (scheme, host and port only)", strconv.Quote(o))
		}
	}
	c.Local = loadLocalConfig(r)
	c.Aws = loadAwsConfig(r, c.Target == "aws")
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
		DBMemoryMb:             r.integer("dbMemoryMb", 512, 65536),
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

var (
	awsRegion     = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]$`)
	auroraVersion = regexp.MustCompile(`^8\.0\.mysql_aurora\.3\.[0-9]{2}\.[0-9]+$`)
	dbClass       = regexp.MustCompile(`^db\.(serverless|[a-z0-9]+\.[a-z0-9]+)$`)
	cacheClass    = regexp.MustCompile(`^cache\.[a-z0-9]+\.[a-z0-9]+$`)
	hostName      = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	zoneID        = regexp.MustCompile(`^Z[A-Z0-9]{1,31}$`)
	acmArn        = regexp.MustCompile(`^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$`)
	email         = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	awsAccountID  = regexp.MustCompile(`^[0-9]{12}$`)
	// A DB cluster snapshot: its identifier (CreateDBClusterSnapshot: 1 to 63 letters, digits
	// or hyphens, a letter first, no two hyphens in a row nor one last), with the "rds:"
	// that AWS puts before an automated one's, or its ARN (RestoreDBClusterFromSnapshot's
	// SnapshotIdentifier takes either).
	clusterSnapshot = regexp.MustCompile(`^(rds:)?[A-Za-z](-?[A-Za-z0-9])*$|^arn:aws[a-z-]*:rds:[a-z0-9-]+:[0-9]{12}:cluster-snapshot:(rds:)?[A-Za-z](-?[A-Za-z0-9])*$`)
)

// CloudWatch Logs accepts only these retention periods, in days.
var logRetentions = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// loadAwsConfig reads the aws target's keys. Each value is checked whatever the target; what
// a stack must set (HTTPS) only when it targets aws.
func loadAwsConfig(r *reader, aws bool) AwsConfig {
	a := AwsConfig{
		Tier:                  r.oneOf("tier", "production", "staging", "ephemeral"),
		AppImage:              r.str("appImage"),
		MercureImage:          r.str("mercureImage"),
		EcrReaderAccounts:     r.list("ecrReaderAccounts"),
		Region:                r.str("awsRegion"),
		Protect:               r.boolean("protect"),
		VpcCidr:               r.str("vpcCidr"),
		AzCount:               r.integer("azCount", 2, 6),
		NatGateways:           r.oneOf("natGateways", "one-per-az", "single", "none"),
		DomainName:            strings.ToLower(strings.TrimSuffix(r.str("domainName"), ".")),
		HostedZoneID:          r.str("hostedZoneId"),
		CertificateArn:        r.str("certificateArn"),
		AllowHTTPOnly:         r.boolean("allowHttpOnly"),
		AlbSslPolicy:          r.str("albSslPolicy"),
		AlbDeletionProtection: r.boolean("albDeletionProtection"),
		AlbIdleTimeout:        r.integer("albIdleTimeout", 41, 4000),
		Waf:                   r.boolean("waf"),
		WafRateLimit:          r.integer("wafRateLimit", 100, 2000000000),
		EcsExec:               r.boolean("ecsExec"),
		ContainerInsights:     r.boolean("containerInsights"),
		PhpCPU:                r.integer("phpCpu", 256, 16384),
		PhpMemory:             r.integer("phpMemory", 512, 122880),
		PhpMinTasks:           r.integer("phpMinTasks", 1, 100),
		PhpMaxTasks:           r.integer("phpMaxTasks", 1, 100),
		PhpCPUTarget:          r.integer("phpCpuTarget", 10, 95),
		PhpMemoryTarget:       r.integer("phpMemoryTarget", 10, 95),
		MercureCPU:            r.integer("mercureCpu", 256, 16384),
		MercureMemory:         r.integer("mercureMemory", 512, 122880),
		DBEngineVersion:       r.str("dbEngineVersion"),
		DBInstanceClass:       r.str("dbInstanceClass"),
		DBMinAcu:              r.acu("dbMinAcu"),
		DBMaxAcu:              r.acu("dbMaxAcu"),
		DBAutoPauseMinutes:    r.integer("dbAutoPauseMinutes", 5, 1440),
		PhpCapacity:           r.oneOf("phpCapacity", "on-demand", "spot"),
		PhpOnDemandTasks:      r.integer("phpOnDemandTasks", 1, 100),
		CPUArchitecture:       r.oneOf("cpuArchitecture", "x86_64", "arm64"),
		DBInstances:           r.integer("dbInstances", 1, 16),
		DBBackupRetentionDays: r.integer("dbBackupRetentionDays", 1, 35),
		DBFinalSnapshot:       r.boolean("dbFinalSnapshot"),
		DBRestoreSnapshot:     r.str("dbRestoreSnapshot"),
		CacheNodeType:         r.str("cacheNodeType"),
		CacheEngineVersion:    r.str("cacheEngineVersion"),
		CacheReplica:          r.boolean("cacheReplica"),
		LogRetentionDays:      r.integer("logRetentionDays", 1, 3653),
		AlarmEmails:           r.list("alarmEmails"),
		Alarms: AlarmThresholds{
			HTTP5xxPercent:     r.integer("alarmHttp5xxPercent", 1, 100),
			LatencyP95Ms:       r.integer("alarmLatencyP95Ms", 10, 60000),
			CPUPercent:         r.integer("alarmCpuPercent", 1, 100),
			MemoryPercent:      r.integer("alarmMemoryPercent", 1, 100),
			DBFreeableMemoryMb: r.integer("alarmDbFreeableMemoryMb", 1, 1048576),
			DBReplicaLagMs:     r.integer("alarmDbReplicaLagMs", 1, 3600000),
			RedisEvictions:     r.integer("alarmRedisEvictions", 0, 100000000),
		},
	}
	checkAws(r, &a, aws)
	return a
}

// checkAws holds the aws target's values to what AWS accepts and to each other, and a
// production stack to what production needs.
func checkAws(r *reader, a *AwsConfig, aws bool) {
	match := func(key, value string, re *regexp.Regexp, allowed string) {
		if !re.MatchString(value) {
			r.fail(key, allowed, strconv.Quote(value))
		}
	}
	match("awsRegion", a.Region, awsRegion, "an AWS region such as eu-central-1")
	match("dbEngineVersion", a.DBEngineVersion, auroraVersion, "an Aurora MySQL 3 version such as "+components.DefaultAuroraVersion)
	match("dbInstanceClass", a.DBInstanceClass, dbClass, "an RDS instance class such as db.t4g.medium, or db.serverless")
	if a.DBInstanceClass == components.ServerlessClass {
		if a.DBMaxAcu < 1 || a.DBMaxAcu < a.DBMinAcu {
			r.fail("dbMaxAcu", fmt.Sprintf("at least 1 and at least dbMinAcu (%v)", a.DBMinAcu), a.DBMaxAcu)
		}
		if a.DBMinAcu == 0 && !components.AcuCanPause(a.DBEngineVersion) {
			r.fail("dbMinAcu", "at least 0.5 with dbEngineVersion "+a.DBEngineVersion+" (0, the pause, needs Aurora MySQL 3.08.0 or later)", a.DBMinAcu)
		}
	}
	match("cacheNodeType", a.CacheNodeType, cacheClass, "an ElastiCache node type such as cache.t3.micro")
	if components.RedisParameterGroupFamily(a.CacheEngineVersion) == "" {
		r.fail("cacheEngineVersion", "a Redis OSS version ElastiCache offers: 6.x, 6.0, 6.2, or 7.x such as 7.1", strconv.Quote(a.CacheEngineVersion))
	}
	if !strings.HasPrefix(a.AlbSslPolicy, "ELBSecurityPolicy-TLS13-") {
		r.fail("albSslPolicy", "an ELB security policy with TLS 1.3 (ELBSecurityPolicy-TLS13-...)", strconv.Quote(a.AlbSslPolicy))
	}
	if _, network, err := net.ParseCIDR(a.VpcCidr); err != nil || network.IP.To4() == nil || network.String() != a.VpcCidr {
		r.fail("vpcCidr", "an IPv4 network in CIDR form such as 10.0.0.0/16", strconv.Quote(a.VpcCidr))
	} else if ones, _ := network.Mask.Size(); ones < 16 || ones > 20 {
		r.fail("vpcCidr", "a network from /16 to /20 (each subnet gets 1/16 of it)", strconv.Quote(a.VpcCidr))
	}
	loadHTTPSConfig(r, a, aws)
	if !components.ValidFargateSize(a.PhpCPU, a.PhpMemory) {
		r.fail("phpMemory", fmt.Sprintf("a size Fargate allows with phpCpu %d", a.PhpCPU), a.PhpMemory)
	}
	if !components.ValidFargateSize(a.MercureCPU, a.MercureMemory) {
		r.fail("mercureMemory", fmt.Sprintf("a size Fargate allows with mercureCpu %d", a.MercureCPU), a.MercureMemory)
	}
	// ECS developer guide, "Amazon ECS clusters for Fargate" (Fargate capacity provider
	// considerations): "Linux tasks with the ARM64 architecture don't support the Fargate
	// Spot capacity provider."
	if a.PhpCapacity == "spot" && a.CPUArchitecture == "arm64" {
		r.fail("phpCapacity", "on-demand when cpuArchitecture is arm64 (Fargate Spot runs only X86_64 Linux tasks)", strconv.Quote(a.PhpCapacity))
	}
	if a.PhpMaxTasks < a.PhpMinTasks {
		r.fail("phpMaxTasks", fmt.Sprintf("at least phpMinTasks (%d)", a.PhpMinTasks), a.PhpMaxTasks)
	}
	if !slices.Contains(logRetentions, a.LogRetentionDays) {
		r.fail("logRetentionDays", "a period CloudWatch Logs offers: 1, 3, 5, 7, 14, 30, 60, 90, ... days", a.LogRetentionDays)
	}
	for _, e := range a.AlarmEmails {
		if !email.MatchString(e) {
			r.fail("alarmEmails", "a list of e-mail addresses", strconv.Quote(e))
		}
	}
	for key, ref := range map[string]string{"appImage": a.AppImage, "mercureImage": a.MercureImage} {
		if ref != "" && !components.ValidImageRef(ref) {
			r.fail(key, "an ECR image by digest (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:...)", strconv.Quote(ref))
		}
	}
	if s := a.DBRestoreSnapshot; s != "" {
		switch {
		case strings.Contains(s, ":snapshot:"):
			r.fail("dbRestoreSnapshot", "a DB cluster snapshot (Aurora's, arn:aws:rds:...:cluster-snapshot:...), not a DB instance snapshot", strconv.Quote(s))
		case !clusterSnapshot.MatchString(s):
			r.fail("dbRestoreSnapshot", "a DB cluster snapshot's identifier (letters, digits and single hyphens, a letter first; rds: before an automated one) or its ARN", strconv.Quote(s))
		}
	}
	for _, account := range a.EcrReaderAccounts {
		if !awsAccountID.MatchString(account) {
			r.fail("ecrReaderAccounts", "a list of 12-digit AWS account IDs", strconv.Quote(account))
		}
	}
	if aws && a.Tier == "production" {
		checkProduction(r, *a)
	}
	checkEphemeral(r, *a)
}

// checkProduction refuses a production stack that lacks a guarantee production needs. Each
// is the default but alarmEmails and the images; a stack file can loosen any of them only by
// saying tier: staging.
func checkProduction(r *reader, a AwsConfig) {
	const why = "for tier production"
	if len(a.AlarmEmails) == 0 {
		r.fail("alarmEmails", "at least one address "+why+" (alarms that notify nobody are no alarms)", "[]")
	}
	if a.NatGateways != "one-per-az" {
		r.fail("natGateways", "one-per-az "+why+" (an AZ outage must not cut the other AZs' egress)", strconv.Quote(a.NatGateways))
	}
	if a.DBInstances < 2 {
		r.fail("dbInstances", "at least 2 "+why+" (a reader in another AZ to fail over to)", a.DBInstances)
	}
	if !a.CacheReplica {
		r.fail("cacheReplica", "true "+why+" (a replica with automatic failover)", false)
	}
	if a.PhpMinTasks < 2 {
		r.fail("phpMinTasks", "at least 2 "+why+" (tasks in two AZs)", a.PhpMinTasks)
	}
	if !a.Protect || !a.AlbDeletionProtection {
		r.fail("protect", "true, with albDeletionProtection, "+why, fmt.Sprintf("protect %v, albDeletionProtection %v", a.Protect, a.AlbDeletionProtection))
	}
	if a.AllowHTTPOnly {
		r.fail("allowHttpOnly", "false "+why+" (HTTPS only)", true)
	}
	if !a.Waf {
		r.fail("waf", "true "+why, false)
	}
	if a.AppImage == "" || a.MercureImage == "" {
		r.fail("appImage", "set with mercureImage "+why+": production deploys the images staging runs, never a build of its own (the deploy workflow sets them; docs/aws.md: Production)", `""`)
	}
}

// checkEphemeral keeps what only a throwaway stack may do off the stacks that hold data:
// staging and production always leave a final snapshot when their cluster goes.
func checkEphemeral(r *reader, a AwsConfig) {
	if a.Tier == "ephemeral" && (r.stack == "staging" || r.stack == "production") {
		r.fail("tier", "staging or production on the stack "+r.stack+" (ephemeral is for throwaway stacks such as e2e-*)", strconv.Quote(a.Tier))
	}
	if !a.DBFinalSnapshot && a.Tier != "ephemeral" {
		r.fail("dbFinalSnapshot", "true unless tier is ephemeral (tier "+a.Tier+" keeps a final snapshot of its data)", false)
	}
}

// loadHTTPSConfig checks that the domain, zone and certificate keys make one of the three
// supported setups: a certificate you have, one the program creates, or HTTP only, which a
// stack must ask for (allowHttpOnly): the design terminates TLS at the load balancer.
func loadHTTPSConfig(r *reader, a *AwsConfig, required bool) {
	if a.DomainName != "" && !hostName.MatchString(a.DomainName) {
		r.fail("domainName", "a DNS host name such as staging.example.com", strconv.Quote(a.DomainName))
	}
	if a.HostedZoneID != "" && !zoneID.MatchString(a.HostedZoneID) {
		r.fail("hostedZoneId", "a Route 53 hosted zone ID such as Z0123456789ABCDEFGHIJ", strconv.Quote(a.HostedZoneID))
	}
	if a.CertificateArn != "" && !acmArn.MatchString(a.CertificateArn) {
		r.fail("certificateArn", "an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)", strconv.Quote(a.CertificateArn))
	}
	switch {
	case a.CertificateArn != "" && a.DomainName == "":
		r.fail("domainName", "set when certificateArn is (the certificate's host name, which the app's URL uses)", `""`)
	case a.HostedZoneID != "" && a.DomainName == "":
		r.fail("domainName", "set when hostedZoneId is (the record to create in the zone)", `""`)
	case a.DomainName != "" && a.HostedZoneID == "" && a.CertificateArn == "":
		r.fail("hostedZoneId", "set when domainName is, unless certificateArn is (the program needs the zone to validate a new certificate)", `""`)
	case required && a.DomainName == "" && !a.AllowHTTPOnly:
		r.fail("domainName", "set for HTTPS: with hostedZoneId (the program creates and validates the certificate), or with certificateArn (a certificate you have); "+
			"or set allowHttpOnly: true for a throwaway stack without TLS", `""`)
	case a.DomainName != "" && a.AllowHTTPOnly:
		r.fail("allowHttpOnly", "false when domainName is set (the stack serves HTTPS)", true)
	}
}
