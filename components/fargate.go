//go:build !sudoku_local

package components

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/servicediscovery"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// fargateSpec is what differs between the stack's two ECS services.
type fargateSpec struct {
	name            string // component name; also the container's name
	rt              AwsRuntime
	image           pulumi.StringInput // by digest, so a new image is a new task definition
	repositoryArn   pulumi.StringInput // where image is: the execution role may pull from it
	port            int
	cpu, memory     int
	env             map[string]pulumi.StringInput
	secrets         map[string]Secret
	health          healthCheck
	writablePaths   []string // the root filesystem is read-only; these get ephemeral volumes
	securityGroupID pulumi.StringInput
	targetGroupArn  pulumi.StringInput
	desiredCount    int
	// minHealthyPercent and maxPercent bound a deployment: 100/200 starts new tasks before
	// stopping old ones; 0/100 stops the old task first.
	minHealthyPercent, maxPercent int
	// scaled hands desiredCount to auto scaling after creation.
	scaled bool
	// onDemandBase, when spot is set, is how many tasks stay on on-demand Fargate; the rest
	// run on Fargate Spot.
	spot         bool
	onDemandBase int
	registry     *servicediscovery.Service
	// release, when set, runs in the same task before the service's container, which starts
	// only once it has exited 0.
	release *releaseContainer
}

// releaseContainer is a container that runs to completion before the service's own: the
// same image with another command, environment and secrets.
type releaseContainer struct {
	name    string
	command []string
	env     map[string]pulumi.StringInput
	secrets map[string]Secret
	// waits is how long, in seconds, it may wait for what it needs (the database) before it
	// gives up: the service's health-check grace period covers it.
	waits int
}

type fargateService struct {
	logGroup       *cloudwatch.LogGroup
	taskDefinition *ecs.TaskDefinition
	service        *ecs.Service
}

// newFargateService runs spec on the stack's cluster: in the private subnets without public
// IPs, behind the load balancer's target group, with a container health check, its own log
// group, least-privilege execution and task roles, a deployment circuit breaker that rolls
// back, and ECS Exec for debugging when the stack turns it on.
func newFargateService(ctx *pulumi.Context, spec fargateSpec, parent pulumi.Resource) (*fargateService, error) {
	name, rt := spec.name, spec.rt
	f := &fargateService{}
	var err error
	f.logGroup, err = rt.newLogGroup(ctx, name+"-logs", fmt.Sprintf("/%s/%s/%s", ctx.Project(), ctx.Stack(), name), parent)
	if err != nil {
		return nil, err
	}
	execRole, err := executionRole(ctx, spec, f.logGroup, parent)
	if err != nil {
		return nil, err
	}
	taskRole, err := taskRole(ctx, name, rt, parent)
	if err != nil {
		return nil, err
	}

	volumes, containers := containerDefinitions(spec, f.logGroup)
	f.taskDefinition, err = ecs.NewTaskDefinition(ctx, name+"-task", &ecs.TaskDefinitionArgs{
		Family:                  pulumi.String(physicalName(ctx, name)),
		Cpu:                     pulumi.Sprintf("%d", spec.cpu),
		Memory:                  pulumi.Sprintf("%d", spec.memory),
		NetworkMode:             pulumi.String("awsvpc"),
		RequiresCompatibilities: pulumi.StringArray{pulumi.String("FARGATE")},
		RuntimePlatform: ecs.TaskDefinitionRuntimePlatformArgs{
			OperatingSystemFamily: pulumi.String("LINUX"),
			CpuArchitecture:       pulumi.String(strings.ToUpper(rt.CPUArchitecture)),
		},
		ExecutionRoleArn:     execRole.Arn,
		TaskRoleArn:          taskRole.Arn,
		ContainerDefinitions: pulumi.JSONMarshal(containers),
		Volumes:              volumes,
		// Earlier revisions stay registered, so that a rollback has something to run.
		SkipDestroy: pulumi.Bool(true),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, err
	}

	args := serviceArgs(spec, f.taskDefinition)
	opts := []pulumi.ResourceOption{pulumi.Parent(parent), pulumi.DependsOn([]pulumi.Resource{rt.CapacityProviders})}
	if spec.scaled {
		// After creation the count belongs to auto scaling: `pulumi up` must not reset it.
		opts = append(opts, pulumi.IgnoreChanges([]string{"desiredCount"}))
	}
	f.service, err = ecs.NewService(ctx, name+"-service", args, opts...)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// containerDefinitions are the task's containers (the service's, after the release
// container when there is one) and the scratch volumes of their writable paths.
func containerDefinitions(spec fargateSpec, logGroup *cloudwatch.LogGroup) (ecs.TaskDefinitionVolumeArray, pulumi.Array) {
	name, rt := spec.name, spec.rt
	volumes := ecs.TaskDefinitionVolumeArray{}
	mounts := pulumi.Array{}
	for i, path := range spec.writablePaths {
		volume := fmt.Sprintf("scratch-%d", i)
		volumes = append(volumes, ecs.TaskDefinitionVolumeArgs{Name: pulumi.String(volume)})
		mounts = append(mounts, pulumi.Map{"sourceVolume": pulumi.String(volume), "containerPath": pulumi.String(path), "readOnly": pulumi.Bool(false)})
	}
	env, secrets, secretVersions := containerEnv(spec.env, spec.secrets)
	container := pulumi.Map{
		"name":             pulumi.String(name),
		"image":            spec.image,
		"essential":        pulumi.Bool(true),
		"portMappings":     pulumi.Array{pulumi.Map{"containerPort": pulumi.Int(spec.port), "protocol": pulumi.String("tcp")}},
		"environment":      env,
		"secrets":          secrets,
		"dockerLabels":     secretVersions,
		"logConfiguration": awsLogs(logGroup, rt, name),
		// ECS replaces a task whose container turns unhealthy.
		"healthCheck": pulumi.Map{
			"command":     pulumi.ToStringArray([]string{"CMD-SHELL", spec.health.command}),
			"interval":    pulumi.Int(spec.health.interval),
			"timeout":     pulumi.Int(spec.health.timeout),
			"retries":     pulumi.Int(spec.health.retries),
			"startPeriod": pulumi.Int(spec.health.startPeriod),
		},
		"readonlyRootFilesystem": pulumi.Bool(true),
		"mountPoints":            mounts,
		// An init process reaps zombies, which ECS Exec sessions leave behind.
		"linuxParameters": pulumi.Map{"initProcessEnabled": pulumi.Bool(true)},
		"stopTimeout":     pulumi.Int(30),
	}
	containers := pulumi.Array{container}
	if r := spec.release; r != nil {
		env, secrets, versions := containerEnv(r.env, r.secrets)
		// ECS developer guide, container dependency: SUCCESS "validates that a dependent
		// container runs to completion and exits with a zero status", and cannot be set on
		// an essential container. If it fails, the service's container never starts, the
		// task stops, and the deployment circuit breaker rolls the service back: the
		// revision before keeps serving.
		containers = pulumi.Array{pulumi.Map{
			"name":                   pulumi.String(r.name),
			"image":                  spec.image,
			"essential":              pulumi.Bool(false),
			"command":                pulumi.ToStringArray(r.command),
			"environment":            env,
			"secrets":                secrets,
			"dockerLabels":           versions,
			"logConfiguration":       awsLogs(logGroup, rt, r.name),
			"readonlyRootFilesystem": pulumi.Bool(true),
			"mountPoints":            mounts,
		}, container}
		container["dependsOn"] = pulumi.Array{pulumi.Map{"containerName": pulumi.String(r.name), "condition": pulumi.String("SUCCESS")}}
	}
	return volumes, containers
}

// serviceArgs are the ECS service of spec, running taskDefinition.
func serviceArgs(spec fargateSpec, taskDefinition *ecs.TaskDefinition) *ecs.ServiceArgs {
	name, rt := spec.name, spec.rt
	args := &ecs.ServiceArgs{
		Cluster:         rt.Cluster.Arn,
		TaskDefinition:  taskDefinition.Arn,
		DesiredCount:    pulumi.Int(spec.desiredCount),
		LaunchType:      pulumi.String("FARGATE"),
		PlatformVersion: pulumi.String("LATEST"),
		NetworkConfiguration: ecs.ServiceNetworkConfigurationArgs{
			Subnets:        rt.Network.PrivateSubnetIDs,
			SecurityGroups: pulumi.StringArray{spec.securityGroupID},
			AssignPublicIp: pulumi.Bool(false),
		},
		LoadBalancers: ecs.ServiceLoadBalancerArray{
			ecs.ServiceLoadBalancerArgs{
				TargetGroupArn: spec.targetGroupArn,
				ContainerName:  pulumi.String(name),
				ContainerPort:  pulumi.Int(spec.port),
			},
		},
		DeploymentCircuitBreaker: ecs.ServiceDeploymentCircuitBreakerArgs{
			Enable:   pulumi.Bool(true),
			Rollback: pulumi.Bool(true),
		},
		DeploymentMinimumHealthyPercent: pulumi.Int(spec.minHealthyPercent),
		DeploymentMaximumPercent:        pulumi.Int(spec.maxPercent),
		HealthCheckGracePeriodSeconds:   pulumi.Int(gracePeriod(spec)),
		AvailabilityZoneRebalancing:     pulumi.String(azRebalancing(spec.maxPercent)),
		EnableExecuteCommand:            pulumi.Bool(rt.ExecLogGroup != nil),
		EnableEcsManagedTags:            pulumi.Bool(true),
		PropagateTags:                   pulumi.String("SERVICE"),
		// `pulumi up` waits until the service is stable (the new revision, or the old one
		// after a rollback).
		WaitForSteadyState: pulumi.Bool(true),
	}
	if spec.registry != nil {
		args.ServiceRegistries = ecs.ServiceServiceRegistriesArgs{RegistryArn: spec.registry.Arn}
	}
	// Fargate Spot runs a task until AWS needs the capacity back, then stops it with two
	// minutes' notice (SIGTERM; the app's entrypoint stops Nginx and FPM gracefully well
	// within stopTimeout). The base stays on on-demand Fargate, so the service never runs on
	// Spot alone. (A service with a strategy has no launch type; switching replaces the
	// service, a new one beside the old, as its name is generated.)
	if spec.spot {
		args.LaunchType = nil
		args.CapacityProviderStrategies = ecs.ServiceCapacityProviderStrategyArray{
			ecs.ServiceCapacityProviderStrategyArgs{CapacityProvider: pulumi.String("FARGATE"), Base: pulumi.Int(spec.onDemandBase), Weight: pulumi.Int(0)},
			ecs.ServiceCapacityProviderStrategyArgs{CapacityProvider: pulumi.String("FARGATE_SPOT"), Weight: pulumi.Int(1)},
		}
	}
	return args
}

// gracePeriod is how long ECS ignores a new task's failing health checks: the service
// container's own start period, and before it the release step's wait, which counts from the
// task's start ("healthCheckGracePeriodSeconds ... after a task has first started"), plus
// half a minute.
func gracePeriod(spec fargateSpec) int {
	grace := spec.health.startPeriod + 30
	if spec.release != nil {
		grace += spec.release.waits
	}
	return grace
}

// azRebalancing is whether ECS may move a service's tasks to even out the AZs: it starts a
// task in the emptier AZ before it stops one in the fuller, so it needs a maximum percent
// above 100 ("Balancing an Amazon ECS service across Availability Zones" lists services at
// 100% among those that cannot use it; AWS CDK refuses the combination). The hub (one task,
// 100%) says DISABLED outright: a create without the field gets ENABLED where ECS can.
func azRebalancing(maxPercent int) string {
	if maxPercent > 100 {
		return "ENABLED"
	}
	return "DISABLED"
}

// containerEnv is a container definition's environment, secrets and labels. ECS reads a
// secret when a task starts, and the task definition names it by ARN, which a new value
// keeps: without more, a changed password would reach no running task, and the service
// would keep the old one until something restarted it. Each secret's version ID (a new value
// is a new version; not secret itself) is a label of the container, so a new value is a new
// task definition revision, and ECS rolls the service onto it.
func containerEnv(plain map[string]pulumi.StringInput, secret map[string]Secret) (env, secrets pulumi.Array, versions pulumi.Map) {
	env, secrets, versions = pulumi.Array{}, pulumi.Array{}, pulumi.Map{}
	for _, k := range sortedKeys(plain) {
		env = append(env, pulumi.Map{"name": pulumi.String(k), "value": plain[k]})
	}
	for _, k := range sortedKeys(secret) {
		secrets = append(secrets, pulumi.Map{"name": pulumi.String(k), "valueFrom": secret[k].ValueFrom()})
		versions["sudoku.secret-version."+strings.ToLower(k)] = secret[k].Version
	}
	return env, secrets, versions
}

// awsLogs sends a container's output to the service's log group.
func awsLogs(group *cloudwatch.LogGroup, rt AwsRuntime, prefix string) pulumi.Map {
	return pulumi.Map{
		"logDriver": pulumi.String("awslogs"),
		"options": pulumi.Map{
			"awslogs-group":         group.Name,
			"awslogs-region":        pulumi.String(rt.Account.Region),
			"awslogs-stream-prefix": pulumi.String(prefix),
		},
	}
}

// executionRole may pull only this service's images, write only its log group and read only
// the secrets it injects (and decrypt them with the stack's key).
func executionRole(ctx *pulumi.Context, spec fargateSpec, logs *cloudwatch.LogGroup, parent pulumi.Resource) (*iam.Role, error) {
	role, err := iam.NewRole(ctx, spec.name+"-execution", &iam.RoleArgs{
		Description: pulumi.Sprintf("ECS execution role of %s: pulls its image, reads its secrets", spec.name),
		// AWS documents aws:SourceArn for the task role only (below); this account only.
		AssumeRolePolicy: serviceTrust("ecs-tasks.amazonaws.com", spec.rt.Account, nil),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, err
	}
	secretArns := []pulumi.StringInput{}
	seen := map[pulumi.StringOutput]bool{}
	all := []map[string]Secret{spec.secrets}
	if spec.release != nil {
		all = append(all, spec.release.secrets)
	}
	for _, secrets := range all {
		for _, k := range sortedKeys(secrets) {
			if arn := secrets[k].Arn; !seen[arn] {
				seen[arn] = true
				secretArns = append(secretArns, arn)
			}
		}
	}
	statements := []pulumi.Map{
		allow([]string{"ecr:GetAuthorizationToken"}, pulumi.String("*")),
		allow([]string{"ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"}, spec.repositoryArn),
		allow([]string{"logs:CreateLogStream", "logs:PutLogEvents"}, pulumi.Sprintf("%s:*", logs.Arn)),
	}
	if len(secretArns) > 0 {
		// The key decrypts the secrets for this role only through Secrets Manager.
		decrypt := allow([]string{"kms:Decrypt"}, spec.rt.KmsKeyArn)
		decrypt["Condition"] = pulumi.Map{"StringEquals": pulumi.Map{
			"kms:ViaService": pulumi.String("secretsmanager." + spec.rt.Account.Region + ".amazonaws.com"),
		}}
		statements = append(statements, allow([]string{"secretsmanager:GetSecretValue"}, secretArns...), decrypt)
	}
	_, err = iam.NewRolePolicy(ctx, spec.name+"-execution", &iam.RolePolicyArgs{
		Role:   role.ID(),
		Policy: policy(statements...),
	}, pulumi.Parent(parent))
	return role, err
}

// taskRole is what the app itself may do: nothing, or, with ECS Exec on, open sessions and
// log them, encrypted, to the session log group (the permissions "Monitor Amazon ECS
// containers with ECS Exec" lists for logging to CloudWatch with a KMS key).
func taskRole(ctx *pulumi.Context, name string, rt AwsRuntime, parent pulumi.Resource) (*iam.Role, error) {
	role, err := iam.NewRole(ctx, name+"-task", &iam.RoleArgs{
		Description: pulumi.Sprintf("ECS task role of %s: ECS Exec, when it is on", name),
		// ECS developer guide, "Amazon ECS task IAM role": aws:SourceArn of the account's
		// ECS resources, and aws:SourceAccount.
		AssumeRolePolicy: serviceTrust("ecs-tasks.amazonaws.com", rt.Account, rt.Account.arn("ecs", "*")),
	}, pulumi.Parent(parent))
	if err != nil || rt.ExecLogGroup == nil {
		return role, err
	}
	_, err = iam.NewRolePolicy(ctx, name+"-task", &iam.RolePolicyArgs{
		Role: role.ID(),
		Policy: policy(
			allow([]string{
				"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
				"ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
			}, pulumi.String("*")),
			allow([]string{"logs:DescribeLogGroups"}, pulumi.String("*")),
			allow([]string{"logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"}, pulumi.Sprintf("%s:*", rt.ExecLogGroup.Arn)),
			allow([]string{"kms:Decrypt"}, rt.KmsKeyArn),
		),
	}, pulumi.Parent(parent))
	return role, err
}
