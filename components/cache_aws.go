//go:build !sudoku_local

package components

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/elasticache"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AwsCacheArgs configures the ElastiCache Redis replication group.
type AwsCacheArgs struct {
	// Runtime is the network, key, log retention and protection the stack shares; required.
	Runtime AwsRuntime
	// ClientSecurityGroupID is the only security group that may connect (the app's); required.
	ClientSecurityGroupID pulumi.StringInput
	// NodeType is the node type; default "cache.t3.micro".
	NodeType string
	// EngineVersion is the Redis version; default "7.1".
	EngineVersion string
	// Replica adds a replica in another AZ with automatic failover; default false.
	Replica bool
}

func (a AwsCacheArgs) withDefaults() AwsCacheArgs {
	a.Runtime = a.Runtime.withDefaults()
	if a.NodeType == "" {
		a.NodeType = "cache.t3.micro"
	}
	if a.EngineVersion == "" {
		a.EngineVersion = "7.1"
	}
	return a
}

func (a AwsCacheArgs) validate() error {
	if err := a.Runtime.validate("cache", false); err != nil {
		return err
	}
	if a.ClientSecurityGroupID == nil {
		return fieldError("cache", "ClientSecurityGroupID", "set", "nil")
	}
	if RedisParameterGroupFamily(a.EngineVersion) == "" {
		return fieldError("cache", "EngineVersion", "a Redis OSS version ElastiCache offers: 6.x, 6.0, 6.2 or 7.x such as 7.1", a.EngineVersion)
	}
	return nil
}

// NewAwsCache creates an ElastiCache Redis replication group in the private subnets, with its
// own subnet group and security group (open to the app only), encryption at rest (the stack's
// key) and in transit, an AUTH token in Secrets Manager, and its slow log in CloudWatch.
func NewAwsCache(ctx *pulumi.Context, name string, args *AwsCacheArgs, opts ...pulumi.ResourceOption) (*Cache, error) {
	a := args.withDefaults()
	if err := a.validate(); err != nil {
		return nil, err
	}
	c := &Cache{}
	if err := ctx.RegisterComponentResource(typePrefix+"Cache", name, c, opts...); err != nil {
		return nil, err
	}
	if err := newElastiCache(ctx, name, a, c); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return c, c.registerOutputs(ctx)
}

func newElastiCache(ctx *pulumi.Context, name string, a AwsCacheArgs, c *Cache) error {
	rt := a.Runtime
	sg, err := ec2.NewSecurityGroup(ctx, name+"-sg", &ec2.SecurityGroupArgs{
		VpcId:       rt.Network.ID,
		Description: pulumi.String("ElastiCache: Redis from the app only"),
		Tags:        nameTag(physicalName(ctx, name)),
	}, pulumi.Parent(c))
	if err != nil {
		return err
	}
	if err := allowTCP(ctx, name+"-from-app", a.ClientSecurityGroupID, sg.ID(), CachePort, "app to ElastiCache Redis", c); err != nil {
		return err
	}
	subnets, err := elasticache.NewSubnetGroup(ctx, name+"-subnets", &elasticache.SubnetGroupArgs{
		SubnetIds:   rt.Network.PrivateSubnetIDs,
		Description: pulumi.String("ElastiCache: private subnets only"),
	}, pulumi.Parent(c))
	if err != nil {
		return err
	}
	slowLog, err := rt.newLogGroup(ctx, name+"-slow-log", fmt.Sprintf("/%s/%s/%s/slow-log", ctx.Project(), ctx.Stack(), name), c)
	if err != nil {
		return err
	}
	token, err := newPassword(ctx, name+"-auth-token", 64, c)
	if err != nil {
		return err
	}
	nodes := 1
	if a.Replica {
		nodes = 2
	}
	c.ReplicationGroup, err = elasticache.NewReplicationGroup(ctx, name+"-redis", &elasticache.ReplicationGroupArgs{
		ReplicationGroupId:       pulumi.String(physicalName(ctx, name)),
		Description:              pulumi.String("sudoku cache"),
		Engine:                   pulumi.String("redis"),
		EngineVersion:            pulumi.String(a.EngineVersion),
		ParameterGroupName:       pulumi.String("default." + RedisParameterGroupFamily(a.EngineVersion)),
		NodeType:                 pulumi.String(a.NodeType),
		NumCacheClusters:         pulumi.Int(nodes),
		AutomaticFailoverEnabled: pulumi.Bool(a.Replica),
		MultiAzEnabled:           pulumi.Bool(a.Replica),
		Port:                     pulumi.Int(CachePort),
		SubnetGroupName:          subnets.Name,
		SecurityGroupIds:         pulumi.StringArray{sg.ID()},
		AtRestEncryptionEnabled:  pulumi.Bool(true),
		KmsKeyId:                 rt.KmsKeyArn,
		TransitEncryptionEnabled: pulumi.Bool(true),
		AuthToken:                token,
		SnapshotRetentionLimit:   pulumi.Int(1),
		SnapshotWindow:           pulumi.String("01:00-02:00"),
		MaintenanceWindow:        pulumi.String("sun:04:30-sun:05:30"),
		AutoMinorVersionUpgrade:  pulumi.Bool(true),
		LogDeliveryConfigurations: elasticache.ReplicationGroupLogDeliveryConfigurationArray{
			elasticache.ReplicationGroupLogDeliveryConfigurationArgs{
				Destination:     slowLog.Name,
				DestinationType: pulumi.String("cloudwatch-logs"),
				LogFormat:       pulumi.String("json"),
				LogType:         pulumi.String("slow-log"),
			},
		},
	}, rt.stateful(c)...)
	if err != nil {
		return err
	}

	c.Host = c.ReplicationGroup.PrimaryEndpointAddress
	c.Port = pulumi.Int(CachePort).ToIntOutput()
	c.Password = token
	c.URL = redisURL("rediss", token, c.ReplicationGroup.PrimaryEndpointAddress)
	secret, err := newJSONSecret(ctx, name+"-auth", "ElastiCache AUTH token of the sudoku app, and its REDIS_URL", rt, pulumi.StringMap{
		"auth_token": token,
		"REDIS_URL":  c.URL,
	}, c)
	if err != nil {
		return err
	}
	c.Credentials = secret.resource
	c.URLSecret = secret.key(c.URL, "REDIS_URL")
	return nil
}

// awsCache is the ElastiCache side of a Cache.
type awsCache struct {
	// ReplicationGroup and Credentials are the ElastiCache group and its secret (AWS only).
	ReplicationGroup *elasticache.ReplicationGroup
	Credentials      *secretsmanager.Secret
}
