//go:build !sudoku_local

package main

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/sudoku/infra/components"
)

// monitored is what staging's alarms and dashboard watch.
type monitored struct {
	lb      *components.LoadBalancer
	cluster *ecs.Cluster
	app     *components.PhpService
	mercure *components.MercureHub
	db      *components.Database
	cache   *components.Cache
	// keyArn encrypts the alarm topic.
	keyArn pulumi.StringInput
}

type monitoring struct {
	topic     *sns.Topic
	dashboard *cloudwatch.Dashboard
}

// alarmSpec is one CloudWatch alarm: a single metric, or a metric-math expression.
type alarmSpec struct {
	name, description string
	namespace, metric string
	dimensions        pulumi.StringMap
	statistic         string // Average, Sum, Maximum, Minimum, or a percentile such as p95
	comparison        string
	threshold         float64
	period, periods   int
	queries           cloudwatch.MetricAlarmMetricQueryArray // instead of the single metric
	// missingBreaches counts a period without data as breaching: for a metric that is
	// published whether or not there is traffic, its absence is the incident.
	missingBreaches bool
}

// newMonitoring creates the alarm topic (with optional e-mail subscriptions), the alarms an
// on-call person needs, and one dashboard with the same signals side by side.
func newMonitoring(ctx *pulumi.Context, a AwsConfig, m monitored, provider *aws.Provider) (*monitoring, error) {
	opt := pulumi.Provider(provider)
	topic, err := sns.NewTopic(ctx, "alarms", &sns.TopicArgs{
		DisplayName:    pulumi.Sprintf("%s-%s alarms", ctx.Project(), ctx.Stack()),
		KmsMasterKeyId: m.keyArn,
	}, opt)
	if err != nil {
		return nil, err
	}
	for i, address := range a.AlarmEmails {
		if _, err := sns.NewTopicSubscription(ctx, fmt.Sprintf("alarms-email-%d", i), &sns.TopicSubscriptionArgs{
			Topic:    topic.Arn,
			Protocol: pulumi.String("email"),
			Endpoint: pulumi.String(address),
		}, opt); err != nil {
			return nil, err
		}
	}
	for _, spec := range alarmSpecs(a, m) {
		if err := newAlarm(ctx, spec, topic, opt); err != nil {
			return nil, err
		}
	}
	if err := notifyFailedDeployments(ctx, m, topic, provider); err != nil {
		return nil, err
	}
	dashboard, err := cloudwatch.NewDashboard(ctx, "dashboard", &cloudwatch.DashboardArgs{
		DashboardName: pulumi.Sprintf("%s-%s", ctx.Project(), ctx.Stack()),
		DashboardBody: dashboardBody(a, m),
	}, opt)
	if err != nil {
		return nil, err
	}
	return &monitoring{topic: topic, dashboard: dashboard}, nil
}

// notifyFailedDeployments tells the alarm topic when ECS gives up on a deployment. With the
// circuit breaker, ECS rolls a failed deployment back, and the service is stable again on
// the old revision; `pulumi up` (waitForSteadyState) then reports success
// (terraform-provider-aws#20858). ECS sends SERVICE_DEPLOYMENT_FAILED to EventBridge for
// services with the circuit breaker ("Amazon ECS service deployment events"); this rule
// forwards it, and scripts/ci.sh verify-deployment fails the deploy job.
func notifyFailedDeployments(ctx *pulumi.Context, m monitored, topic *sns.Topic, provider *aws.Provider) error {
	opt := pulumi.Provider(provider)
	identity := aws.GetCallerIdentityOutput(ctx, aws.GetCallerIdentityOutputArgs{}, opt)
	// Replacing the topic's default policy: its statement stays (the account manages and
	// publishes, as CloudWatch's alarms do), and EventBridge may publish. EventBridge's
	// user guide: a condition in an SNS topic policy for EventBridge is not supported.
	_, err := sns.NewTopicPolicy(ctx, "alarms", &sns.TopicPolicyArgs{
		Arn: topic.Arn,
		Policy: pulumi.JSONMarshal(pulumi.Map{
			"Version": pulumi.String("2012-10-17"),
			"Statement": pulumi.Array{
				pulumi.Map{
					"Sid":       pulumi.String("__default_statement_ID"),
					"Effect":    pulumi.String("Allow"),
					"Principal": pulumi.Map{"AWS": pulumi.String("*")},
					"Action": pulumi.ToStringArray([]string{"SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
						"SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"}),
					"Resource":  topic.Arn,
					"Condition": pulumi.Map{"StringEquals": pulumi.Map{"AWS:SourceOwner": identity.AccountId()}},
				},
				pulumi.Map{
					"Sid":       pulumi.String("EventBridgePublishesDeploymentFailures"),
					"Effect":    pulumi.String("Allow"),
					"Principal": pulumi.Map{"Service": pulumi.String("events.amazonaws.com")},
					"Action":    pulumi.String("sns:Publish"),
					"Resource":  topic.Arn,
				},
			},
		}),
	}, opt)
	if err != nil {
		return err
	}
	rule, err := cloudwatch.NewEventRule(ctx, "deployment-failed", &cloudwatch.EventRuleArgs{
		Name:        pulumi.Sprintf("%s-%s-deployment-failed", ctx.Project(), ctx.Stack()),
		Description: pulumi.String("An ECS deployment of the app or the hub failed, and ECS rolled the service back"),
		EventPattern: pulumi.JSONMarshal(pulumi.Map{
			"source":      pulumi.ToStringArray([]string{"aws.ecs"}),
			"detail-type": pulumi.ToStringArray([]string{"ECS Deployment State Change"}),
			"resources":   pulumi.StringArray{m.app.Service.ID().ToStringOutput(), m.mercure.Service.ID().ToStringOutput()},
			"detail":      pulumi.Map{"eventName": pulumi.ToStringArray([]string{"SERVICE_DEPLOYMENT_FAILED"})},
		}),
	}, opt)
	if err != nil {
		return err
	}
	_, err = cloudwatch.NewEventTarget(ctx, "deployment-failed", &cloudwatch.EventTargetArgs{
		Rule: rule.Name,
		Arn:  topic.Arn,
		InputTransformer: cloudwatch.EventTargetInputTransformerArgs{
			InputPaths: pulumi.StringMap{
				"service":    pulumi.String("$.resources[0]"),
				"deployment": pulumi.String("$.detail.deploymentId"),
				"reason":     pulumi.String("$.detail.reason"),
			},
			InputTemplate: pulumi.Sprintf(`"%s-%s: ECS deployment <deployment> of <service> failed, and ECS rolled the service back: <reason>"`, ctx.Project(), ctx.Stack()),
		},
	}, opt)
	return err
}

func newAlarm(ctx *pulumi.Context, s alarmSpec, topic *sns.Topic, opt pulumi.ResourceOption) error {
	args := &cloudwatch.MetricAlarmArgs{
		Name:               pulumi.Sprintf("%s-%s-%s", ctx.Project(), ctx.Stack(), s.name),
		AlarmDescription:   pulumi.String(s.description),
		ComparisonOperator: pulumi.String(s.comparison),
		Threshold:          pulumi.Float64(s.threshold),
		EvaluationPeriods:  pulumi.Int(s.periods),
		// No data (no traffic, a stopped task) is not an incident by itself.
		TreatMissingData: pulumi.String(map[bool]string{false: "notBreaching", true: "breaching"}[s.missingBreaches]),
		AlarmActions:     pulumi.Array{topic.Arn},
		OkActions:        pulumi.Array{topic.Arn},
	}
	if s.queries != nil {
		args.MetricQueries = s.queries
	} else {
		args.Namespace = pulumi.String(s.namespace)
		args.MetricName = pulumi.String(s.metric)
		args.Dimensions = s.dimensions
		args.Period = pulumi.Int(s.period)
		if s.statistic[0] == 'p' {
			args.ExtendedStatistic = pulumi.String(s.statistic)
		} else {
			args.Statistic = pulumi.String(s.statistic)
		}
	}
	_, err := cloudwatch.NewMetricAlarm(ctx, "alarm-"+s.name, args, opt)
	return err
}

func query(id, namespace, metric, stat string, dims pulumi.StringMap, period int) cloudwatch.MetricAlarmMetricQueryArgs {
	return cloudwatch.MetricAlarmMetricQueryArgs{
		Id: pulumi.String(id),
		Metric: cloudwatch.MetricAlarmMetricQueryMetricArgs{
			Namespace: pulumi.String(namespace), MetricName: pulumi.String(metric),
			Stat: pulumi.String(stat), Period: pulumi.Int(period), Dimensions: dims,
		},
		ReturnData: pulumi.Bool(false),
	}
}

func expression(id, expr, label string) cloudwatch.MetricAlarmMetricQueryArgs {
	return cloudwatch.MetricAlarmMetricQueryArgs{
		Id: pulumi.String(id), Expression: pulumi.String(expr), Label: pulumi.String(label), ReturnData: pulumi.Bool(true),
	}
}

// redisNodes are the replication group's node IDs (ElastiCache numbers them -001, -002).
func redisNodes(a AwsConfig, m monitored) []pulumi.StringOutput {
	n := 1
	if a.CacheReplica {
		n = 2
	}
	var nodes []pulumi.StringOutput
	for i := 1; i <= n; i++ {
		nodes = append(nodes, pulumi.Sprintf("%s-%03d", m.cache.ReplicationGroup.ReplicationGroupId, i))
	}
	return nodes
}

func alarmSpecs(a AwsConfig, m monitored) []alarmSpec {
	t := a.Alarms
	alb := pulumi.StringMap{"LoadBalancer": m.lb.Alb.ArnSuffix}
	target := func(tg pulumi.StringInput) pulumi.StringMap {
		return pulumi.StringMap{"LoadBalancer": m.lb.Alb.ArnSuffix, "TargetGroup": tg}
	}
	specs := []alarmSpec{
		{
			name: "http-5xx-rate", description: fmt.Sprintf("More than %d%% of requests failed with a 5xx (load balancer or app).", t.HTTP5xxPercent),
			comparison: "GreaterThanThreshold", threshold: float64(t.HTTP5xxPercent), periods: 2,
			queries: cloudwatch.MetricAlarmMetricQueryArray{
				query("target5xx", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", alb, 300),
				query("elb5xx", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", alb, 300),
				query("requests", "AWS/ApplicationELB", "RequestCount", "Sum", alb, 300),
				expression("rate", "100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests", "5xx %"),
			},
		},
		{
			name: "app-p95-latency", description: fmt.Sprintf("The app's p95 response time is above %d ms.", t.LatencyP95Ms),
			namespace: "AWS/ApplicationELB", metric: "TargetResponseTime", dimensions: target(m.lb.AppTargetGroup.ArnSuffix),
			statistic: "p95", comparison: "GreaterThanThreshold", threshold: float64(t.LatencyP95Ms) / 1000, period: 300, periods: 2,
		},
	}
	for _, tg := range []struct {
		name   string
		suffix pulumi.StringOutput
	}{{"app", m.lb.AppTargetGroup.ArnSuffix}, {"mercure", m.lb.MercureTargetGroup.ArnSuffix}} {
		specs = append(specs, alarmSpec{
			name: tg.name + "-unhealthy-targets", description: fmt.Sprintf("The load balancer sees an unhealthy %s task.", tg.name),
			namespace: "AWS/ApplicationELB", metric: "UnHealthyHostCount", dimensions: target(tg.suffix),
			statistic: "Maximum", comparison: "GreaterThanThreshold", threshold: 0, period: 60, periods: 3,
		})
	}
	for _, svc := range []struct {
		name    string
		service pulumi.StringOutput
		target  pulumi.StringOutput
		min     int
	}{{"app", m.app.ServiceName, m.lb.AppTargetGroup.ArnSuffix, a.PhpMinTasks}, {"mercure", m.mercure.ServiceName, m.lb.MercureTargetGroup.ArnSuffix, 1}} {
		dims := pulumi.StringMap{"ClusterName": m.cluster.Name, "ServiceName": svc.service}
		specs = append(specs, tasksAlarm(a, svc.name, dims, target(svc.target), svc.min),
			alarmSpec{
				name: svc.name + "-cpu-high", description: fmt.Sprintf("The %s service uses more than %d%% CPU.", svc.name, t.CPUPercent),
				namespace: "AWS/ECS", metric: "CPUUtilization", dimensions: dims,
				statistic: "Average", comparison: "GreaterThanThreshold", threshold: float64(t.CPUPercent), period: 300, periods: 2,
			},
			alarmSpec{
				name: svc.name + "-memory-high", description: fmt.Sprintf("The %s service uses more than %d%% memory.", svc.name, t.MemoryPercent),
				namespace: "AWS/ECS", metric: "MemoryUtilization", dimensions: dims,
				statistic: "Average", comparison: "GreaterThanThreshold", threshold: float64(t.MemoryPercent), period: 300, periods: 2,
			})
	}
	db := pulumi.StringMap{"DBClusterIdentifier": m.db.Cluster.ClusterIdentifier}
	specs = append(specs, alarmSpec{
		name: "db-cpu-high", description: fmt.Sprintf("Aurora uses more than %d%% CPU.", t.CPUPercent),
		namespace: "AWS/RDS", metric: "CPUUtilization", dimensions: db,
		statistic: "Average", comparison: "GreaterThanThreshold", threshold: float64(t.CPUPercent), period: 300, periods: 2,
	})
	if a.DBInstanceClass == components.ServerlessClass {
		// Serverless v2 frees memory by scaling down, so freeable memory says little; a
		// cluster held at its ceiling says it needs more.
		specs = append(specs, alarmSpec{
			name: "db-capacity-at-max", description: fmt.Sprintf("Aurora Serverless v2 has run at its maximum, %v ACUs, for 15 minutes.", a.DBMaxAcu),
			namespace: "AWS/RDS", metric: "ServerlessDatabaseCapacity", dimensions: db,
			statistic: "Minimum", comparison: "GreaterThanOrEqualToThreshold", threshold: a.DBMaxAcu, period: 300, periods: 3,
		})
	} else {
		specs = append(specs, alarmSpec{
			name: "db-freeable-memory-low", description: fmt.Sprintf("An Aurora instance has less than %d MiB of freeable memory.", t.DBFreeableMemoryMb),
			namespace: "AWS/RDS", metric: "FreeableMemory", dimensions: db,
			statistic: "Minimum", comparison: "LessThanThreshold", threshold: float64(t.DBFreeableMemoryMb) * 1024 * 1024, period: 300, periods: 2,
		})
	}
	if a.DBInstances > 1 {
		specs = append(specs, alarmSpec{
			name: "db-replica-lag", description: fmt.Sprintf("An Aurora reader lags the writer by more than %d ms.", t.DBReplicaLagMs),
			namespace: "AWS/RDS", metric: "AuroraReplicaLagMaximum", dimensions: db,
			statistic: "Maximum", comparison: "GreaterThanThreshold", threshold: float64(t.DBReplicaLagMs), period: 60, periods: 5,
		})
	}
	for i, node := range redisNodes(a, m) {
		dims := pulumi.StringMap{"CacheClusterId": node}
		n := fmt.Sprintf("redis-%d", i+1)
		specs = append(specs,
			alarmSpec{
				name: n + "-cpu-high", description: fmt.Sprintf("Redis node %d uses more than %d%% of its engine CPU.", i+1, t.CPUPercent),
				namespace: "AWS/ElastiCache", metric: "EngineCPUUtilization", dimensions: dims,
				statistic: "Average", comparison: "GreaterThanThreshold", threshold: float64(t.CPUPercent), period: 300, periods: 2,
			},
			alarmSpec{
				name: n + "-memory-high", description: fmt.Sprintf("Redis node %d uses more than %d%% of its memory.", i+1, t.MemoryPercent),
				namespace: "AWS/ElastiCache", metric: "DatabaseMemoryUsagePercentage", dimensions: dims,
				statistic: "Average", comparison: "GreaterThanThreshold", threshold: float64(t.MemoryPercent), period: 300, periods: 2,
			},
			alarmSpec{
				name: n + "-evictions", description: fmt.Sprintf("Redis node %d evicted more than %d keys in 5 minutes.", i+1, t.RedisEvictions),
				namespace: "AWS/ElastiCache", metric: "Evictions", dimensions: dims,
				statistic: "Sum", comparison: "GreaterThanThreshold", threshold: float64(t.RedisEvictions), period: 300, periods: 1,
			})
	}
	return specs
}

// tasksAlarm fires when a service runs fewer tasks than it should. ECS publishes its task
// counts (RunningTaskCount, DesiredTaskCount) only with Container Insights: in AWS/ECS
// there are only CPU and memory ("Amazon ECS CloudWatch metrics"; the counts are in
// "Amazon ECS Container Insights metrics"), so without it an alarm on them would never fire.
// Then the load balancer's count of healthy targets stands in ("CloudWatch metrics for your
// Application Load Balancer": HealthyHostCount is "reported if health checks are enabled",
// not only with traffic): fewer than the service's minimum, a missing value counting as too
// few.
func tasksAlarm(a AwsConfig, name string, service, targetGroup pulumi.StringMap, min int) alarmSpec {
	if !a.ContainerInsights {
		return alarmSpec{
			name: name + "-healthy-tasks-below-min", description: fmt.Sprintf("Fewer than %d %s tasks pass the load balancer's health checks.", min, name),
			namespace: "AWS/ApplicationELB", metric: "HealthyHostCount", dimensions: targetGroup,
			statistic: "Minimum", comparison: "LessThanThreshold", threshold: float64(min), period: 60, periods: 5,
			missingBreaches: true,
		}
	}
	return alarmSpec{
		name: name + "-tasks-below-desired", description: fmt.Sprintf("Fewer %s tasks run than desired.", name),
		comparison: "GreaterThanThreshold", threshold: 0, periods: 5,
		queries: cloudwatch.MetricAlarmMetricQueryArray{
			query("desired", "ECS/ContainerInsights", "DesiredTaskCount", "Average", service, 60),
			query("running", "ECS/ContainerInsights", "RunningTaskCount", "Average", service, 60),
			expression("missing", "desired - running", "tasks missing"),
		},
	}
}

// dashboardBody lays out the alarms' signals, a row per tier.
func dashboardBody(a AwsConfig, m monitored) pulumi.StringOutput {
	metric := func(namespace, name string, dims ...pulumi.StringInput) pulumi.Array {
		row := pulumi.Array{pulumi.String(namespace), pulumi.String(name)}
		for _, d := range dims {
			row = append(row, d)
		}
		return row
	}
	widget := func(x, y int, title, stat string, metrics ...pulumi.Array) pulumi.Map {
		list := pulumi.Array{}
		for _, m := range metrics {
			list = append(list, m)
		}
		return pulumi.Map{
			"type": pulumi.String("metric"), "x": pulumi.Int(x), "y": pulumi.Int(y), "width": pulumi.Int(8), "height": pulumi.Int(6),
			"properties": pulumi.Map{
				"title": pulumi.String(title), "region": pulumi.String(a.Region), "stat": pulumi.String(stat),
				"period": pulumi.Int(300), "view": pulumi.String("timeSeries"), "metrics": list,
			},
		}
	}
	lbDim := []pulumi.StringInput{pulumi.String("LoadBalancer"), m.lb.Alb.ArnSuffix}
	appTG := append(append([]pulumi.StringInput{}, lbDim...), pulumi.String("TargetGroup"), m.lb.AppTargetGroup.ArnSuffix)
	mercureTG := append(append([]pulumi.StringInput{}, lbDim...), pulumi.String("TargetGroup"), m.lb.MercureTargetGroup.ArnSuffix)
	service := func(name pulumi.StringOutput) []pulumi.StringInput {
		return []pulumi.StringInput{pulumi.String("ClusterName"), m.cluster.Name, pulumi.String("ServiceName"), name}
	}
	db := []pulumi.StringInput{pulumi.String("DBClusterIdentifier"), m.db.Cluster.ClusterIdentifier}
	redis := []pulumi.Array{}
	redisMem := []pulumi.Array{}
	redisEvictions := []pulumi.Array{}
	for _, node := range redisNodes(a, m) {
		dims := []pulumi.StringInput{pulumi.String("CacheClusterId"), node}
		redis = append(redis, metric("AWS/ElastiCache", "EngineCPUUtilization", dims...))
		redisMem = append(redisMem, metric("AWS/ElastiCache", "DatabaseMemoryUsagePercentage", dims...))
		redisEvictions = append(redisEvictions, metric("AWS/ElastiCache", "Evictions", dims...))
	}
	// Task counts exist only with Container Insights (tasksAlarm); without, the targets the
	// load balancer finds unhealthy.
	tasks := widget(0, 12, "Unhealthy targets", "Maximum", metric("AWS/ApplicationELB", "UnHealthyHostCount", appTG...), metric("AWS/ApplicationELB", "UnHealthyHostCount", mercureTG...))
	if a.ContainerInsights {
		tasks = widget(0, 12, "Running tasks", "Average", metric("ECS/ContainerInsights", "RunningTaskCount", service(m.app.ServiceName)...), metric("ECS/ContainerInsights", "RunningTaskCount", service(m.mercure.ServiceName)...))
	}
	widgets := pulumi.Array{
		widget(0, 0, "Requests", "Sum", metric("AWS/ApplicationELB", "RequestCount", lbDim...)),
		widget(8, 0, "5xx responses", "Sum", metric("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", lbDim...), metric("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", lbDim...)),
		widget(16, 0, "App response time (p95, s)", "p95", metric("AWS/ApplicationELB", "TargetResponseTime", appTG...)),
		widget(0, 6, "Healthy targets", "Minimum", metric("AWS/ApplicationELB", "HealthyHostCount", appTG...), metric("AWS/ApplicationELB", "HealthyHostCount", mercureTG...)),
		widget(8, 6, "Service CPU %", "Average", metric("AWS/ECS", "CPUUtilization", service(m.app.ServiceName)...), metric("AWS/ECS", "CPUUtilization", service(m.mercure.ServiceName)...)),
		widget(16, 6, "Service memory %", "Average", metric("AWS/ECS", "MemoryUtilization", service(m.app.ServiceName)...), metric("AWS/ECS", "MemoryUtilization", service(m.mercure.ServiceName)...)),
		tasks,
		widget(8, 12, "Aurora CPU % and connections", "Average", metric("AWS/RDS", "CPUUtilization", db...), metric("AWS/RDS", "DatabaseConnections", db...)),
		widget(16, 12, "Aurora freeable memory and replica lag", "Minimum", metric("AWS/RDS", "FreeableMemory", db...), metric("AWS/RDS", "AuroraReplicaLagMaximum", db...)),
		widget(0, 18, "Redis engine CPU %", "Average", redis...),
		widget(8, 18, "Redis memory %", "Average", redisMem...),
		widget(16, 18, "Redis evictions", "Sum", redisEvictions...),
	}
	return pulumi.JSONMarshal(pulumi.Map{"widgets": widgets})
}
