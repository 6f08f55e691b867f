//go:build !sudoku_local

package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/servicediscovery"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/sudoku/infra/components"
)

// deployAws composes the aws target, in steps that each need what the ones before made: the
// account's foundations (provider, zones, the data key), the network with the ECS cluster,
// the edge (the load balancer: an ECS service joins an existing target group), the data
// (Aurora, ElastiCache), the services (the Mercure hub, the app), then alarms and a dashboard.
func deployAws(ctx *pulumi.Context, cfg *Config) (pulumi.Map, error) {
	s := &awsStack{ctx: ctx, cfg: cfg, a: cfg.Aws}
	for _, step := range []func() error{s.foundations, s.network, s.edge, s.data, s.services, s.monitoring} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return s.outputs(), nil
}

// awsStack is what the steps of deployAws have made so far.
type awsStack struct {
	ctx *pulumi.Context
	cfg *Config
	a   AwsConfig

	provider *aws.Provider
	zones    []string
	account  components.AwsAccount
	key      *kms.Key
	rt       components.AwsRuntime
	net      *components.Network
	cluster  *ecs.Cluster
	lb       *components.LoadBalancer
	db       *components.Database
	cache    *components.Cache
	mercure  *components.MercureHub
	app      *components.PhpService
	alarms   *monitoring
}

func (s *awsStack) withProvider() pulumi.ResourceOption { return pulumi.Providers(s.provider) }

// foundations: the provider with the stack's default tags, the zones, the account, and the
// key that everything stored is encrypted with (the flow logs' log group too, so it comes
// before the network). The Aurora version, and the snapshot to restore, are checked here,
// before anything is created.
func (s *awsStack) foundations() error {
	ctx, a := s.ctx, s.a
	var err error
	s.provider, err = aws.NewProvider(ctx, "aws", &aws.ProviderArgs{
		Region: pulumi.String(a.Region),
		DefaultTags: aws.ProviderDefaultTagsArgs{Tags: pulumi.StringMap{
			"Project":   pulumi.String(ctx.Project()),
			"Stack":     pulumi.String(ctx.Stack()),
			"ManagedBy": pulumi.String("pulumi"),
		}},
	})
	if err != nil {
		return err
	}
	if s.zones, err = availabilityZones(ctx, a, s.provider); err != nil {
		return err
	}
	if err := auroraVersionOffered(ctx, a, s.provider); err != nil {
		return err
	}
	if err := restoreSnapshotUsable(ctx, a, s.provider); err != nil {
		return err
	}
	s.account = components.AwsAccount{
		ID:        aws.GetCallerIdentityOutput(ctx, aws.GetCallerIdentityOutputArgs{}, pulumi.Provider(s.provider)).AccountId(),
		Partition: aws.GetPartitionOutput(ctx, aws.GetPartitionOutputArgs{}, pulumi.Provider(s.provider)).Partition(),
		Region:    a.Region,
	}
	s.key, err = dataKey(ctx, a, s.account, s.provider)
	return err
}

// network: the VPC, and the ECS cluster with its capacity providers and the private DNS
// namespace the services find each other in; together, the runtime every component uses.
func (s *awsStack) network() error {
	ctx, a := s.ctx, s.a
	var err error
	s.net, err = components.NewAwsNetwork(ctx, "network", &components.AwsNetworkArgs{
		CidrBlock:            a.VpcCidr,
		AvailabilityZones:    s.zones,
		NatGateways:          a.NatGateways,
		Account:              s.account,
		KmsKeyArn:            s.key.Arn,
		FlowLogRetentionDays: a.LogRetentionDays,
	}, s.withProvider())
	if err != nil {
		return err
	}
	cluster, execLogs, err := ecsCluster(ctx, a, s.key, s.provider)
	if err != nil {
		return err
	}
	s.cluster = cluster
	capacity, err := ecs.NewClusterCapacityProviders(ctx, "cluster", &ecs.ClusterCapacityProvidersArgs{
		ClusterName:       cluster.Name,
		CapacityProviders: pulumi.ToStringArray([]string{"FARGATE", "FARGATE_SPOT"}),
	}, pulumi.Provider(s.provider))
	if err != nil {
		return err
	}
	namespace, err := servicediscovery.NewPrivateDnsNamespace(ctx, "namespace", &servicediscovery.PrivateDnsNamespaceArgs{
		Name:        pulumi.String(namespaceName(ctx.Stack(), ctx.Project())),
		Description: pulumi.String("Private names of the stack's services"),
		Vpc:         s.net.ID,
	}, pulumi.Provider(s.provider))
	if err != nil {
		return err
	}
	s.rt = components.AwsRuntime{
		Network:           s.net,
		Account:           s.account,
		KmsKeyArn:         s.key.Arn,
		ExecLogGroup:      execLogs,
		CapacityProviders: capacity,
		CPUArchitecture:   a.CPUArchitecture,
		Cluster:           cluster,
		Namespace:         namespace,
		LogRetentionDays:  a.LogRetentionDays,
		Protect:           a.Protect,
		EcrReaderAccounts: a.EcrReaderAccounts,
	}
	return nil
}

// edge: the load balancer, its listeners, target groups and WAF.
func (s *awsStack) edge() error {
	a := s.a
	var err error
	s.lb, err = components.NewAwsLoadBalancer(s.ctx, "lb", &components.AwsLoadBalancerArgs{
		Runtime:            s.rt,
		DomainName:         a.DomainName,
		HostedZoneID:       a.HostedZoneID,
		CertificateArn:     a.CertificateArn,
		AllowHTTPOnly:      a.AllowHTTPOnly,
		SslPolicy:          a.AlbSslPolicy,
		DeletionProtection: a.AlbDeletionProtection,
		IdleTimeout:        a.AlbIdleTimeout,
		AccessLogDays:      a.LogRetentionDays,
		Waf:                a.Waf,
		WafRateLimit:       a.WafRateLimit,
	}, s.withProvider())
	return err
}

// data: Aurora and ElastiCache, each reachable from the app's security group only.
func (s *awsStack) data() error {
	a := s.a
	appSG := s.net.SecurityGroupIDs.MapIndex(pulumi.String(components.TierApp))
	var err error
	s.db, err = components.NewAwsDatabase(s.ctx, "db", &components.AwsDatabaseArgs{
		Runtime:               s.rt,
		ClientSecurityGroupID: appSG,
		EngineVersion:         a.DBEngineVersion,
		InstanceClass:         a.DBInstanceClass,
		MinAcu:                a.DBMinAcu,
		MaxAcu:                a.DBMaxAcu,
		AutoPauseMinutes:      a.DBAutoPauseMinutes,
		Instances:             a.DBInstances,
		BackupRetentionDays:   a.DBBackupRetentionDays,
		SkipFinalSnapshot:     !a.DBFinalSnapshot,
		RestoreSnapshot:       a.DBRestoreSnapshot,
	}, s.withProvider())
	if err != nil {
		return err
	}
	s.cache, err = components.NewAwsCache(s.ctx, "cache", &components.AwsCacheArgs{
		Runtime:               s.rt,
		ClientSecurityGroupID: appSG,
		NodeType:              a.CacheNodeType,
		EngineVersion:         a.CacheEngineVersion,
		Replica:               a.CacheReplica,
	}, s.withProvider())
	return err
}

// services: the Mercure hub, then the app, which is given the hub, the database and the
// cache; each joins its target group of the load balancer.
func (s *awsStack) services() error {
	a, cfg := s.a, s.cfg
	origins := pulumi.StringArray{s.lb.URL}
	for _, o := range cfg.MercureCorsOrigins {
		origins = append(origins, pulumi.String(o))
	}
	var err error
	s.mercure, err = components.NewAwsMercureHub(s.ctx, "mercure", &components.AwsMercureHubArgs{
		Runtime:        s.rt,
		CPU:            a.MercureCPU,
		Memory:         a.MercureMemory,
		Image:          a.MercureImage,
		CorsOrigins:    origins,
		TargetGroupArn: s.lb.Targets.MapIndex(pulumi.String("mercure")),
	}, s.withProvider())
	if err != nil {
		return err
	}
	s.app, err = components.NewAwsPhpService(s.ctx, "app", &components.AwsPhpServiceArgs{
		Runtime:        s.rt,
		AppPath:        cfg.AppPath,
		PhpVersion:     cfg.PhpVersion,
		Image:          a.AppImage,
		CPU:            a.PhpCPU,
		Memory:         a.PhpMemory,
		MinTasks:       a.PhpMinTasks,
		Spot:           a.PhpCapacity == "spot",
		OnDemandTasks:  a.PhpOnDemandTasks,
		MaxTasks:       a.PhpMaxTasks,
		CPUTarget:      a.PhpCPUTarget,
		MemoryTarget:   a.PhpMemoryTarget,
		TargetGroupArn: s.lb.Targets.MapIndex(pulumi.String("app")),
		Env: components.PhpEnv{
			AppEnv:           cfg.AppEnv,
			Database:         s.db,
			Cache:            s.cache,
			Mercure:          s.mercure,
			MercurePublicURL: s.lb.MercurePublicURL,
			ReleaseCommand:   cfg.ReleaseCommand,
		},
	}, s.withProvider())
	return err
}

// monitoring: the alarms, their topic and the dashboard.
func (s *awsStack) monitoring() error {
	var err error
	s.alarms, err = newMonitoring(s.ctx, s.a, monitored{lb: s.lb, cluster: s.cluster, app: s.app, mercure: s.mercure, db: s.db, cache: s.cache, keyArn: s.key.Arn}, s.provider)
	return err
}

// outputs are the stack's outputs: where it answers, what it runs, where its secrets and
// logs are. Never a secret's value.
func (s *awsStack) outputs() pulumi.Map {
	app, mercure, db, cache := s.app, s.mercure, s.db, s.cache
	outputs := pulumi.Map{
		"url":        s.lb.URL,
		"mercureUrl": s.lb.MercurePublicURL,
		"albDnsName": s.lb.DNSName,
		// What the services run, by digest: production's deploy workflow promotes these.
		"imageRefs":    pulumi.StringMap{"app": app.ImageRef, "mercure": mercure.ImageRef},
		"clusterName":  s.cluster.Name,
		"serviceNames": pulumi.StringMap{"app": app.ServiceName, "mercure": mercure.ServiceName},
		// What `pulumi up` deployed; scripts/ci.sh verify-deployment compares it with what
		// ECS runs.
		"taskDefinitionArns": pulumi.StringMap{"app": app.TaskDefinition.Arn, "mercure": mercure.TaskDefinition.Arn},
		"dbEndpoint":         db.Host,
		"dbReaderEndpoint":   db.ReaderHost,
		"redisEndpoint":      cache.Host,
		"secretArns": pulumi.StringMap{
			"database": db.Credentials.Arn,
			"cache":    cache.Credentials.Arn,
			"mercure":  mercure.Keys.Arn,
			"app":      app.Secret.Arn,
		},
		"logGroups": pulumi.StringMap{
			"app":         app.LogGroup.Name,
			"mercure":     mercure.LogGroup.Name,
			"vpcFlowLogs": s.net.FlowLogs.Name,
		},
		"alarmTopicArn": s.alarms.topic.Arn,
		"dashboardName": s.alarms.dashboard.DashboardName,
	}
	if app.Repository != nil && mercure.Repository != nil {
		outputs["ecrRepositoryUrls"] = pulumi.StringMap{"app": app.Repository.RepositoryUrl, "mercure": mercure.Repository.RepositoryUrl}
	}
	return outputs
}

// availabilityZones takes the first azCount zones of the region that need no opt-in.
func availabilityZones(ctx *pulumi.Context, a AwsConfig, provider *aws.Provider) ([]string, error) {
	zones, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{
		State: pulumi.StringRef("available"),
		Filters: []aws.GetAvailabilityZonesFilter{
			{Name: "opt-in-status", Values: []string{"opt-in-not-required"}},
		},
	}, pulumi.Provider(provider))
	if err != nil {
		return nil, fmt.Errorf("listing the availability zones of %s: %w", a.Region, err)
	}
	if len(zones.Names) < a.AzCount {
		return nil, fmt.Errorf("%s:azCount must be at most %d, the zones %s has; got %d",
			ctx.Project(), len(zones.Names), a.Region, a.AzCount)
	}
	return zones.Names[:a.AzCount], nil
}

// auroraVersionOffered fails the preview when AWS no longer creates clusters of dbEngineVersion
// in the region, instead of the first `pulumi up` failing at CreateDBCluster. AWS retires a
// minor version after its support period ends; the data source matches available versions only
// unless includeAll is set (pulumi-aws rds.getEngineVersion).
func auroraVersionOffered(ctx *pulumi.Context, a AwsConfig, provider *aws.Provider) error {
	_, err := rds.GetEngineVersion(ctx, &rds.GetEngineVersionArgs{
		Engine:  "aurora-mysql",
		Version: pulumi.StringRef(a.DBEngineVersion),
	}, pulumi.Provider(provider))
	if err != nil {
		return fmt.Errorf("%s:dbEngineVersion must be an Aurora MySQL version AWS offers for new clusters in %s; %s is not "+
			"(list them: aws rds describe-db-engine-versions --engine aurora-mysql --region %s --query \"DBEngineVersions[?Status=='available'].EngineVersion\"): %w",
			ctx.Project(), a.Region, a.DBEngineVersion, a.Region, err)
	}
	return nil
}

// restoreSnapshotUsable checks, at preview, that dbRestoreSnapshot names an Aurora MySQL
// cluster snapshot the stack's account can see (its own, or one shared with it) and that is
// ready: a restore from anything else fails only at `pulumi up`, after the network exists.
// An automated snapshot is found only when asked for by its type (DescribeDBClusterSnapshots).
func restoreSnapshotUsable(ctx *pulumi.Context, a AwsConfig, provider *aws.Provider) error {
	id := a.DBRestoreSnapshot
	if id == "" {
		return nil
	}
	args := &rds.LookupClusterSnapshotArgs{DbClusterSnapshotIdentifier: pulumi.StringRef(id), IncludeShared: pulumi.BoolRef(true)}
	if strings.HasPrefix(id, "rds:") || strings.Contains(id, ":cluster-snapshot:rds:") {
		args.SnapshotType = pulumi.StringRef("automated")
	}
	snap, err := rds.LookupClusterSnapshot(ctx, args, pulumi.Provider(provider))
	if err != nil {
		return fmt.Errorf("%s:dbRestoreSnapshot: no DB cluster snapshot %s that this account can see in %s "+
			"(list them: aws rds describe-db-cluster-snapshots --include-shared --region %s --query \"DBClusterSnapshots[].DBClusterSnapshotIdentifier\"): %w",
			ctx.Project(), id, a.Region, a.Region, err)
	}
	if snap.Engine != "aurora-mysql" {
		return fmt.Errorf("%s:dbRestoreSnapshot: %s is a snapshot of %s, not of Aurora MySQL", ctx.Project(), id, snap.Engine)
	}
	if snap.Status != "available" {
		return fmt.Errorf("%s:dbRestoreSnapshot: %s is %s, not yet available: wait for it (aws rds wait db-cluster-snapshot-available --db-cluster-snapshot-identifier %s)", ctx.Project(), id, snap.Status, id)
	}
	return nil
}

// ecsCluster is the stack's ECS cluster, with Container Insights unless containerInsights is
// false. With ecsExec, it also
// makes the log group ECS Exec sessions are logged to, and has the sessions and their log
// encrypted with the stack's key; without, it returns no log group, and no task allows
// ECS Exec.
func ecsCluster(ctx *pulumi.Context, a AwsConfig, key *kms.Key, provider *aws.Provider) (*ecs.Cluster, *cloudwatch.LogGroup, error) {
	args := &ecs.ClusterArgs{
		Name: pulumi.String(fmt.Sprintf("%s-%s", ctx.Project(), ctx.Stack())),
		Settings: ecs.ClusterSettingArray{
			ecs.ClusterSettingArgs{Name: pulumi.String("containerInsights"), Value: pulumi.String(map[bool]string{true: "enabled", false: "disabled"}[a.ContainerInsights])},
		},
	}
	var execLogs *cloudwatch.LogGroup
	if a.EcsExec {
		var err error
		execLogs, err = components.NewLogGroup(ctx, "ecs-exec-logs", fmt.Sprintf("/%s/%s/ecs-exec", ctx.Project(), ctx.Stack()),
			a.LogRetentionDays, key.Arn, pulumi.Provider(provider))
		if err != nil {
			return nil, nil, err
		}
		args.Configuration = ecs.ClusterConfigurationArgs{
			ExecuteCommandConfiguration: ecs.ClusterConfigurationExecuteCommandConfigurationArgs{
				KmsKeyId: key.Arn,
				Logging:  pulumi.String("OVERRIDE"),
				LogConfiguration: ecs.ClusterConfigurationExecuteCommandConfigurationLogConfigurationArgs{
					CloudWatchLogGroupName:      execLogs.Name,
					CloudWatchEncryptionEnabled: pulumi.Bool(true),
				},
			},
		}
	}
	cluster, err := ecs.NewCluster(ctx, "cluster", args, pulumi.Provider(provider))
	return cluster, execLogs, err
}

// dataKey is the stack's customer-managed KMS key, with yearly rotation. It encrypts Aurora
// (and its Performance Insights), ElastiCache, the secrets, the ECR repositories, every log
// group and the alarm topic; CloudWatch (alarms) and EventBridge (failed deployments) may use
// it to publish to that topic.
//
// The key outlives a destroy (retainOnDelete): Aurora's final snapshot and retained backups
// are encrypted with it, and would be lost with it. docs/operations.md: Tearing down staging says how
// to delete it once they are gone. A stack that keeps no snapshot (dbFinalSnapshot false,
// tier ephemeral) has nothing the key must outlive: a destroy schedules its deletion after
// KMS's shortest waiting period, 7 days (KMS developer guide, "Schedule key deletion").
func dataKey(ctx *pulumi.Context, a AwsConfig, account components.AwsAccount, provider *aws.Provider) (*kms.Key, error) {
	deletionWindow := 30
	if !a.DBFinalSnapshot {
		deletionWindow = 7
	}
	thisAccount := pulumi.Map{"StringEquals": pulumi.Map{"aws:SourceAccount": account.ID}}
	keyPolicy := pulumi.JSONMarshal(pulumi.Map{
		"Version": pulumi.String("2012-10-17"),
		"Statement": pulumi.Array{
			pulumi.Map{
				"Sid":       pulumi.String("AccountAdministersThroughIAM"),
				"Effect":    pulumi.String("Allow"),
				"Principal": pulumi.Map{"AWS": pulumi.Sprintf("arn:%s:iam::%s:root", account.Partition, account.ID)},
				"Action":    pulumi.String("kms:*"),
				"Resource":  pulumi.String("*"),
			},
			// CloudWatch Logs user guide, "Encrypt log data in CloudWatch Logs using AWS
			// KMS": only for this account's log groups, in this region.
			pulumi.Map{
				"Sid":       pulumi.String("CloudWatchLogsEncryptsThisAccountsLogGroups"),
				"Effect":    pulumi.String("Allow"),
				"Principal": pulumi.Map{"Service": pulumi.Sprintf("logs.%s.amazonaws.com", a.Region)},
				"Action":    pulumi.ToStringArray([]string{"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"}),
				"Resource":  pulumi.String("*"),
				"Condition": pulumi.Map{"ArnLike": pulumi.Map{
					"kms:EncryptionContext:aws:logs:arn": pulumi.Sprintf("arn:%s:logs:%s:%s:log-group:*", account.Partition, a.Region, account.ID),
				}},
			},
			publishesToTheTopic("CloudWatchPublishesAlarmsToTheEncryptedTopic", "cloudwatch.amazonaws.com", thisAccount),
			// SNS developer guide: aws:SourceAccount, aws:SourceArn and aws:SourceOrgID are
			// not supported in a key policy for EventBridge-to-encrypted-topic deliveries, so
			// this statement has none (docs/security.md: Accepted findings).
			publishesToTheTopic("EventBridgePublishesDeploymentFailuresToTheEncryptedTopic", "events.amazonaws.com", nil),
		},
	})
	key, err := kms.NewKey(ctx, "data-key", &kms.KeyArgs{
		Description:          pulumi.Sprintf("%s-%s: Aurora, ElastiCache, secrets, ECR, logs, alarms", ctx.Project(), ctx.Stack()),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(deletionWindow),
		Policy:               keyPolicy,
	}, pulumi.Provider(provider), pulumi.Protect(a.Protect), pulumi.RetainOnDelete(a.DBFinalSnapshot))
	if err != nil {
		return nil, err
	}
	_, err = kms.NewAlias(ctx, "data-key", &kms.AliasArgs{
		Name:        pulumi.Sprintf("alias/%s-%s", ctx.Project(), ctx.Stack()),
		TargetKeyId: key.KeyId,
	}, pulumi.Provider(provider))
	return key, err
}

// publishesToTheTopic lets an AWS service publish to the alarm topic, which the key
// encrypts, under condition (nil: none).
func publishesToTheTopic(sid, service string, condition pulumi.Map) pulumi.Map {
	statement := pulumi.Map{
		"Sid":       pulumi.String(sid),
		"Effect":    pulumi.String("Allow"),
		"Principal": pulumi.Map{"Service": pulumi.String(service)},
		"Action":    pulumi.ToStringArray([]string{"kms:Decrypt", "kms:GenerateDataKey*"}),
		"Resource":  pulumi.String("*"),
	}
	if condition != nil {
		statement["Condition"] = condition
	}
	return statement
}

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// namespaceName is the stack's private DNS domain, such as staging.sudoku.internal.
func namespaceName(stack, project string) string {
	label := func(s string) string { return strings.Trim(notDNS.ReplaceAllString(strings.ToLower(s), "-"), "-") }
	return fmt.Sprintf("%s.%s.internal", label(stack), label(project))
}
