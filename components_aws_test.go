//go:build !sudoku_local

package main

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/sudoku/infra/components"
	"github.com/sudoku/infra/internal/mocks"
)

func TestSubnetCIDR(t *testing.T) {
	t.Parallel()
	cases := []struct {
		cidr    string
		bits, i int
		want    string
	}{
		{"10.0.0.0/16", 4, 0, "10.0.0.0/20"},
		{"10.0.0.0/16", 4, 1, "10.0.16.0/20"},
		{"10.0.0.0/16", 4, 8, "10.0.128.0/20"},
		{"10.0.0.0/16", 4, 15, "10.0.240.0/20"},
		{"172.16.0.0/20", 4, 9, "172.16.9.0/24"},
	}
	for _, c := range cases {
		if got, err := components.SubnetCIDR(c.cidr, c.bits, c.i); err != nil || got != c.want {
			t.Errorf("SubnetCIDR(%s, %d, %d) = %s, %v; want %s", c.cidr, c.bits, c.i, got, err, c.want)
		}
	}
	for _, bad := range []struct {
		cidr    string
		bits, i int
	}{{"10.0.0.0/16", 4, 16}, {"10.0.0.0/30", 4, 0}, {"nope", 4, 0}, {"::/64", 4, 0}} {
		if _, err := components.SubnetCIDR(bad.cidr, bad.bits, bad.i); err == nil {
			t.Errorf("SubnetCIDR(%s, %d, %d) did not fail", bad.cidr, bad.bits, bad.i)
		}
	}
}

func TestValidFargateSize(t *testing.T) {
	t.Parallel()
	for _, ok := range [][2]int{{256, 512}, {256, 2048}, {512, 1024}, {512, 4096}, {1024, 8192}, {4096, 30720}, {16384, 122880}} {
		if !components.ValidFargateSize(ok[0], ok[1]) {
			t.Errorf("%v rejected", ok)
		}
	}
	for _, bad := range [][2]int{{256, 4096}, {512, 512}, {1000, 2048}, {1024, 1024}, {8192, 17000}} {
		if components.ValidFargateSize(bad[0], bad[1]) {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestSecretValueFrom(t *testing.T) {
	t.Parallel()
	var whole, key string
	mustRunComponent(t, func(ctx *pulumi.Context) error {
		arn := pulumi.String("arn:aws:secretsmanager:eu-central-1:1:secret:x-AbCdEf").ToStringOutput()
		a, err := mocks.Await(ctx, components.Secret{Arn: arn}.ValueFrom())
		whole, _ = a.Value.(string)
		if err != nil {
			return err
		}
		b, err := mocks.Await(ctx, components.Secret{Arn: arn, Key: "DATABASE_URL"}.ValueFrom())
		key, _ = b.Value.(string)
		return err
	})
	if whole != "arn:aws:secretsmanager:eu-central-1:1:secret:x-AbCdEf" || key != "arn:aws:secretsmanager:eu-central-1:1:secret:x-AbCdEf:DATABASE_URL::" {
		t.Errorf("ValueFrom = %q and %q", whole, key)
	}
}

// awsTestAccount is the AWS account of the AWS component tests.
var awsTestAccount = components.AwsAccount{ID: pulumi.String("123456789012"), Partition: pulumi.String("aws"), Region: "eu-central-1"}

// awsRuntime is a network, key, cluster and namespace for component tests.
func awsRuntime(ctx *pulumi.Context) (components.AwsRuntime, error) {
	key := pulumi.String("arn:aws:kms:eu-central-1:123456789012:key/k")
	n, err := components.NewAwsNetwork(ctx, "net", &components.AwsNetworkArgs{AvailabilityZones: []string{"eu-central-1a", "eu-central-1b"}, Account: awsTestAccount, KmsKeyArn: key})
	if err != nil {
		return components.AwsRuntime{}, err
	}
	return components.AwsRuntime{Network: n, Account: awsTestAccount, KmsKeyArn: key, Protect: true}, nil
}

func TestAwsDatabaseAndCacheShapes(t *testing.T) {
	t.Parallel()
	var dbURL, redisURL string
	var dbSecret, cacheSecret components.Secret
	var dbArn, cacheArn, migratorArn, adminArn string
	m := mustRunComponent(t, func(ctx *pulumi.Context) error {
		rt, err := awsRuntime(ctx)
		if err != nil {
			return err
		}
		app := rt.Network.SecurityGroupIDs.MapIndex(pulumi.String(components.TierApp))
		db, err := components.NewAwsDatabase(ctx, "db", &components.AwsDatabaseArgs{Runtime: rt, ClientSecurityGroupID: app, Instances: 3})
		if err != nil {
			return err
		}
		cache, err := components.NewAwsCache(ctx, "cache", &components.AwsCacheArgs{Runtime: rt, ClientSecurityGroupID: app})
		if err != nil {
			return err
		}
		dbURL = awaitSecret(t, ctx, "db URL", db.URL)
		redisURL = awaitSecret(t, ctx, "cache URL", cache.URL)
		awaitSecret(t, ctx, "db password", db.Password)
		dbSecret, cacheSecret = db.URLSecret, cache.URLSecret
		a, _ := mocks.Await(ctx, dbSecret.ValueFrom())
		dbArn, _ = a.Value.(string)
		b, _ := mocks.Await(ctx, cacheSecret.ValueFrom())
		cacheArn, _ = b.Value.(string)
		c, _ := mocks.Await(ctx, db.MigratorURLSecret.ValueFrom())
		migratorArn, _ = c.Value.(string)
		d, _ := mocks.Await(ctx, db.AdminPassword.ValueFrom())
		adminArn, _ = d.Value.(string)
		return nil
	})
	// The master user's password is RDS's, in a secret of its own: never in Pulumi's state.
	cluster := m.Named("aws:rds/cluster:Cluster", "db-cluster")
	if _, set := cluster.Inputs["masterPassword"]; set || !cluster.Inputs["manageMasterUserPassword"].BoolValue() ||
		cluster.Inputs["masterUserSecretKmsKeyId"].StringValue() != "arn:aws:kms:eu-central-1:123456789012:key/k" || cluster.Inputs["masterUsername"].StringValue() != "sudoku_admin" {
		t.Errorf("Aurora's master password is not RDS-managed with the stack's key: %v", cluster.Inputs)
	}
	if !strings.Contains(adminArn, ":secret:rds!cluster-") || !strings.HasSuffix(adminArn, ":password::") {
		t.Errorf("the administrator's password comes from %q, not the RDS-managed secret's password key", adminArn)
	}
	if !strings.HasSuffix(migratorArn, ":MIGRATOR_DATABASE_URL::") {
		t.Errorf("the migrator's URL comes from %q", migratorArn)
	}
	if !strings.HasPrefix(dbURL, "mysql://sudoku_app:") || !strings.Contains(dbURL, "@sudoku-test-db.cluster-") || !strings.HasSuffix(dbURL, ":3306/sudoku?serverVersion=8.0&charset=utf8mb4") {
		t.Errorf("DATABASE_URL = %q", dbURL)
	}
	if !strings.HasPrefix(redisURL, "rediss://default:") || !strings.HasSuffix(redisURL, ".cache.amazonaws.com:6379") {
		t.Errorf("REDIS_URL = %q (want TLS, rediss://)", redisURL)
	}
	if !strings.HasSuffix(dbArn, ":DATABASE_URL::") || !strings.HasSuffix(cacheArn, ":REDIS_URL::") {
		t.Errorf("valueFrom: %q, %q", dbArn, cacheArn)
	}
	if n := len(m.OfType("aws:rds/clusterInstance:ClusterInstance")); n != 3 {
		t.Errorf("%d Aurora instances, want 3", n)
	}
	assertChildrenOf(t, m, "Database", "db")
	for _, leak := range m.PlaintextLeaks() {
		t.Errorf("plaintext secret at %s", leak)
	}
}

// ElastiCache's default parameter groups are default.redis6.x and default.redis7: a group
// named after the major alone (default.redis6) does not exist, and creating the replication
// group would fail.
func TestRedisParameterGroup(t *testing.T) {
	t.Parallel()
	for version, want := range map[string]string{"6.x": "default.redis6.x", "6.0": "default.redis6.x", "6.2": "default.redis6.x", "7.0": "default.redis7", "7.1": "default.redis7"} {
		m := mustRunComponent(t, func(ctx *pulumi.Context) error {
			rt, err := awsRuntime(ctx)
			if err != nil {
				return err
			}
			_, err = components.NewAwsCache(ctx, "cache", &components.AwsCacheArgs{Runtime: rt, ClientSecurityGroupID: pulumi.String("sg"), EngineVersion: version})
			return err
		})
		group := m.Named("aws:elasticache/replicationGroup:ReplicationGroup", "cache-redis").Inputs["parameterGroupName"].StringValue()
		if group != want {
			t.Errorf("engine %s: parameter group %q, want %q", version, group, want)
		}
	}
	for _, bad := range []string{"6", "6.1", "5.0", "7", "8.0", "7.x"} {
		if f := components.RedisParameterGroupFamily(bad); f != "" {
			t.Errorf("version %q accepted (family %q)", bad, f)
		}
	}
}

func TestAwsArgsAreValidated(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		build func(ctx *pulumi.Context, rt components.AwsRuntime) error
		want  string
	}{
		{"azs", func(ctx *pulumi.Context, _ components.AwsRuntime) error {
			_, err := components.NewAwsNetwork(ctx, "x", &components.AwsNetworkArgs{AvailabilityZones: []string{"a"}, Account: awsTestAccount})
			return err
		}, "network: AvailabilityZones must be 2 to 6 zones"},
		{"nat", func(ctx *pulumi.Context, _ components.AwsRuntime) error {
			_, err := components.NewAwsNetwork(ctx, "x", &components.AwsNetworkArgs{AvailabilityZones: []string{"a", "b"}, Account: awsTestAccount, KmsKeyArn: pulumi.String("k"), NatGateways: "many"})
			return err
		}, "network: NatGateways must be one-per-az, single or none"},
		{"backups", func(ctx *pulumi.Context, rt components.AwsRuntime) error {
			_, err := components.NewAwsDatabase(ctx, "x", &components.AwsDatabaseArgs{Runtime: rt, ClientSecurityGroupID: pulumi.String("sg"), BackupRetentionDays: 40})
			return err
		}, "database: BackupRetentionDays must be 1 to 35"},
		{"db client", func(ctx *pulumi.Context, rt components.AwsRuntime) error {
			_, err := components.NewAwsDatabase(ctx, "x", &components.AwsDatabaseArgs{Runtime: rt})
			return err
		}, "database: ClientSecurityGroupID must be set"},
		{"redis version", func(ctx *pulumi.Context, rt components.AwsRuntime) error {
			_, err := components.NewAwsCache(ctx, "x", &components.AwsCacheArgs{Runtime: rt, ClientSecurityGroupID: pulumi.String("sg"), EngineVersion: "5.0.6"})
			return err
		}, "cache: EngineVersion must be a Redis OSS version ElastiCache offers"},
		{"hub needs a cluster", func(ctx *pulumi.Context, rt components.AwsRuntime) error {
			_, err := components.NewAwsMercureHub(ctx, "x", &components.AwsMercureHubArgs{Runtime: rt, CorsOrigins: pulumi.StringArray{}, TargetGroupArn: pulumi.String("tg")})
			return err
		}, "mercure: Runtime.Cluster, Runtime.Namespace and Runtime.CapacityProviders must be set"},
		{"idle timeout", func(ctx *pulumi.Context, rt components.AwsRuntime) error {
			_, err := components.NewAwsLoadBalancer(ctx, "x", &components.AwsLoadBalancerArgs{Runtime: rt, IdleTimeout: 30})
			return err
		}, "loadbalancer: IdleTimeout must be above the hub's 40 s heartbeat"},
		{"domain without zone", func(ctx *pulumi.Context, rt components.AwsRuntime) error {
			_, err := components.NewAwsLoadBalancer(ctx, "x", &components.AwsLoadBalancerArgs{Runtime: rt, DomainName: "a.example.com"})
			return err
		}, "loadbalancer: HostedZoneID must be set"},
		{"no network", func(ctx *pulumi.Context, _ components.AwsRuntime) error {
			_, err := components.NewAwsCache(ctx, "x", &components.AwsCacheArgs{})
			return err
		}, "cache: Runtime.Network must be an AWS network"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := componentRun(t, func(ctx *pulumi.Context) error {
				rt, err := awsRuntime(ctx)
				if err != nil {
					return err
				}
				return c.build(ctx, rt)
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
