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

// deployAws composes the aws target: the VPC, the load balancer, Aurora, ElastiCache, the
// Mercure hub and the app on ECS Fargate, then alarms and a dashboard. The services come
// after the load balancer, because an ECS service joins an existing target group.
func deployAws(ctx *pulumi.Context, cfg *Config) (pulumi.Map, error) {
	a := cfg.Aws
	provider, err := aws.NewProvider(ctx, "aws", &aws.ProviderArgs{
		Region: pulumi.String(a.Region),
		DefaultTags: aws.ProviderDefaultTagsArgs{Tags: pulumi.StringMap{
			"Project":   pulumi.String(ctx.Project()),
			"Stack":     pulumi.String(ctx.Stack()),
			"ManagedBy": pulumi.String("pulumi"),
		}},
	})
	if err != nil {
		return nil, err
	}
	withProvider := pulumi.Providers(provider)
	zones, err := availabilityZones(ctx, a, provider)
	if err != nil {
		return nil, err
	}
	if err := auroraVersionOffered(ctx, a, provider); err != nil {
		return nil, err
	}
	account := components.AwsAccount{
		ID:        aws.GetCallerIdentityOutput(ctx, aws.GetCallerIdentityOutputArgs{}, pulumi.Provider(provider)).AccountId(),
		Partition: aws.GetPartitionOutput(ctx, aws.GetPartitionOutputArgs{}, pulumi.Provider(provider)).Partition(),
		Region:    a.Region,
	}
	// The key first: every log group, the flow logs' too, is encrypted with it.
	key, err := dataKey(ctx, a, account, provider)
	if err != nil {
		return nil, err
	}
	network, err := components.NewAwsNetwork(ctx, "network", &components.AwsNetworkArgs{
		CidrBlock:            a.VpcCidr,
		AvailabilityZones:    zones,
		NatGateways:          a.NatGateways,
		Account:              account,
		KmsKeyArn:            key.Arn,
		FlowLogRetentionDays: a.LogRetentionDays,
	}, withProvider)
	if err != nil {
		return nil, err
	}
	cluster, execLogs, err := ecsCluster(ctx, a, key, provider)
	if err != nil {
		return nil, err
	}
	capacity, err := ecs.NewClusterCapacityProviders(ctx, "cluster", &ecs.ClusterCapacityProvidersArgs{
		ClusterName:       cluster.Name,
		CapacityProviders: pulumi.ToStringArray([]string{"FARGATE", "FARGATE_SPOT"}),
	}, pulumi.Provider(provider))
	if err != nil {
		return nil, err
	}
	namespace, err := servicediscovery.NewPrivateDnsNamespace(ctx, "namespace", &servicediscovery.PrivateDnsNamespaceArgs{
		Name:        pulumi.String(namespaceName(ctx.Stack(), ctx.Project())),
		Description: pulumi.String("Private names of the stack's services"),
		Vpc:         network.ID,
	}, pulumi.Provider(provider))
	if err != nil {
		return nil, err
	}
	rt := components.AwsRuntime{
		Network:           network,
		Account:           account,
		KmsKeyArn:         key.Arn,
		ExecLogGroup:      execLogs,
		CapacityProviders: capacity,
		CPUArchitecture:   a.CPUArchitecture,
		Cluster:           cluster,
		Namespace:         namespace,
		LogRetentionDays:  a.LogRetentionDays,
		Protect:           a.Protect,
		EcrReaderAccounts: a.EcrReaderAccounts,
	}

	lb, err := components.NewAwsLoadBalancer(ctx, "lb", &components.AwsLoadBalancerArgs{
		Runtime:            rt,
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
	}, withProvider)
	if err != nil {
		return nil, err
	}
	appSG := network.SecurityGroupIDs.MapIndex(pulumi.String(components.TierApp))
	db, err := components.NewAwsDatabase(ctx, "db", &components.AwsDatabaseArgs{
		Runtime:               rt,
		ClientSecurityGroupID: appSG,
		EngineVersion:         a.DBEngineVersion,
		InstanceClass:         a.DBInstanceClass,
		MinAcu:                a.DBMinAcu,
		MaxAcu:                a.DBMaxAcu,
		AutoPauseMinutes:      a.DBAutoPauseMinutes,
		Instances:             a.DBInstances,
		BackupRetentionDays:   a.DBBackupRetentionDays,
		SkipFinalSnapshot:     !a.DBFinalSnapshot,
	}, withProvider)
	if err != nil {
		return nil, err
	}
	cache, err := components.NewAwsCache(ctx, "cache", &components.AwsCacheArgs{
		Runtime:               rt,
		ClientSecurityGroupID: appSG,
		NodeType:              a.CacheNodeType,
		EngineVersion:         a.CacheEngineVersion,
		Replica:               a.CacheReplica,
	}, withProvider)
	if err != nil {
		return nil, err
	}
	origins := pulumi.StringArray{lb.URL}
	for _, o := range cfg.MercureCorsOrigins {
		origins = append(origins, pulumi.String(o))
	}
	mercure, err := components.NewAwsMercureHub(ctx, "mercure", &components.AwsMercureHubArgs{
		Runtime:        rt,
		CPU:            a.MercureCPU,
		Memory:         a.MercureMemory,
		Image:          a.MercureImage,
		CorsOrigins:    origins,
		TargetGroupArn: lb.Targets.MapIndex(pulumi.String("mercure")),
	}, withProvider)
	if err != nil {
		return nil, err
	}
	app, err := components.NewAwsPhpService(ctx, "app", &components.AwsPhpServiceArgs{
		Runtime:        rt,
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
		TargetGroupArn: lb.Targets.MapIndex(pulumi.String("app")),
		Env: components.PhpEnv{
			AppEnv:           cfg.AppEnv,
			Database:         db,
			Cache:            cache,
			Mercure:          mercure,
			MercurePublicURL: lb.MercurePublicURL,
			ReleaseCommand:   cfg.ReleaseCommand,
		},
	}, withProvider)
	if err != nil {
		return nil, err
	}
	alarms, err := newMonitoring(ctx, a, monitored{lb: lb, cluster: cluster, app: app, mercure: mercure, db: db, cache: cache, keyArn: key.Arn}, provider)
	if err != nil {
		return nil, err
	}

	outputs := pulumi.Map{
		"url":        lb.URL,
		"mercureUrl": lb.MercurePublicURL,
		"albDnsName": lb.DNSName,
		// What the services run, by digest: production's deploy workflow promotes these.
		"imageRefs":    pulumi.StringMap{"app": app.ImageRef, "mercure": mercure.ImageRef},
		"clusterName":  cluster.Name,
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
			"vpcFlowLogs": network.FlowLogs.Name,
		},
		"alarmTopicArn": alarms.topic.Arn,
		"dashboardName": alarms.dashboard.DashboardName,
	}
	if app.Repository != nil && mercure.Repository != nil {
		outputs["ecrRepositoryUrls"] = pulumi.StringMap{"app": app.Repository.RepositoryUrl, "mercure": mercure.Repository.RepositoryUrl}
	}
	return outputs, nil
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
// are encrypted with it, and would be lost with it. README: Tearing down staging says how
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
			// this statement has none (README: Accepted findings).
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
