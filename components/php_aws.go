//go:build !sudoku_local

package components

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/appautoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AwsPhpServiceArgs configures the app's ECS service.
type AwsPhpServiceArgs struct {
	// Runtime is the network, cluster, key and settings the stack shares; required.
	Runtime AwsRuntime
	// AppPath is the app's source, the image's build context; required.
	AppPath string
	// Dockerfile is the app image's Dockerfile; default "docker/php/Dockerfile". The
	// production target is built.
	Dockerfile string
	// PhpVersion is the image's PHP version, one of PhpVersions; default "8.2".
	PhpVersion string
	// Image, when set, is the image to run (an ECR image by digest, as promotion gives
	// it): nothing is built or pushed, and the stack creates no repository. Default "".
	Image string
	// CPU and Memory size a task (Fargate units and MiB); default 512 and 1024.
	CPU, Memory int
	// MinTasks and MaxTasks bound auto scaling; default 2 and 6. Tasks spread over the AZs.
	MinTasks, MaxTasks int
	// Spot runs the tasks beyond OnDemandTasks on Fargate Spot; default false (all on-demand).
	Spot bool
	// OnDemandTasks is how many tasks stay on on-demand Fargate with Spot; default 1.
	OnDemandTasks int
	// CPUTarget and MemoryTarget are the average utilisation (%) auto scaling keeps; default
	// 60 and 75.
	CPUTarget, MemoryTarget int
	// TargetGroupArn is the load balancer's target group for the app; required.
	TargetGroupArn pulumi.StringInput
	// Env is what the app is told about its services; required.
	Env PhpEnv
}

func (a AwsPhpServiceArgs) withDefaults() AwsPhpServiceArgs {
	a.Runtime = a.Runtime.withDefaults()
	if a.Dockerfile == "" {
		a.Dockerfile = "docker/php/Dockerfile"
	}
	if a.PhpVersion == "" {
		a.PhpVersion = PhpVersions[0]
	}
	defaults := []struct {
		field *int
		value int
	}{{&a.CPU, 512}, {&a.Memory, 1024}, {&a.MinTasks, 2}, {&a.MaxTasks, 6}, {&a.CPUTarget, 60}, {&a.MemoryTarget, 75}, {&a.OnDemandTasks, 1}}
	for _, d := range defaults {
		if *d.field == 0 {
			*d.field = d.value
		}
	}
	return a
}

func (a AwsPhpServiceArgs) validate() error {
	if err := a.Runtime.validate("php", true); err != nil {
		return err
	}
	if err := validateAppPath("php", a.AppPath); err != nil {
		return err
	}
	if err := validatePhpVersion("php", a.PhpVersion); err != nil {
		return err
	}
	if a.Image != "" && !ValidImageRef(a.Image) {
		return fieldError("php", "Image", "an ECR image by digest (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:...)", fmt.Sprintf("%q", a.Image))
	}
	if !ValidFargateSize(a.CPU, a.Memory) {
		return fieldError("php", "Memory", fmt.Sprintf("a size Fargate allows with CPU %d", a.CPU), a.Memory)
	}
	if a.Spot && a.Runtime.CPUArchitecture == "arm64" {
		return fieldError("php", "Spot", "false with CPUArchitecture arm64 (Fargate Spot runs only X86_64 Linux tasks)", true)
	}
	if a.MinTasks < 1 || a.MaxTasks < a.MinTasks {
		return fieldError("php", "MinTasks and MaxTasks", "1 <= MinTasks <= MaxTasks", fmt.Sprintf("%d and %d", a.MinTasks, a.MaxTasks))
	}
	for _, t := range []int{a.CPUTarget, a.MemoryTarget} {
		if t < 10 || t > 95 {
			return fieldError("php", "CPUTarget and MemoryTarget", "10 to 95 (%)", t)
		}
	}
	if a.TargetGroupArn == nil {
		return fieldError("php", "TargetGroupArn", "set", "nil")
	}
	return a.Env.validate("php")
}

// releaseConnectSeconds is how long the release step waits for Aurora to answer (release.php:
// a new cluster's endpoint, or a paused Serverless v2 cluster resuming, about 15 s and longer
// after a day) before it gives up and the task stops.
const releaseConnectSeconds = 120

// rdsCA is where the app image keeps Amazon RDS's CA bundle: Aurora requires TLS, and the app
// verifies the server against it.
const rdsCA = "/etc/ssl/certs/rds-global-bundle.pem"

// NewAwsPhpService builds the production image, pushes it to its own ECR repository and runs
// it as an auto-scaled Fargate service behind the load balancer. Every secret reaches the
// task through ECS `secrets`, never its plaintext environment.
func NewAwsPhpService(ctx *pulumi.Context, name string, args *AwsPhpServiceArgs, opts ...pulumi.ResourceOption) (*PhpService, error) {
	a := args.withDefaults()
	if err := a.validate(); err != nil {
		return nil, err
	}
	p := &PhpService{}
	if err := ctx.RegisterComponentResource(typePrefix+"PhpService", name, p, opts...); err != nil {
		return nil, err
	}
	if err := newPhpFargate(ctx, name, a, p); err != nil {
		return nil, fmt.Errorf("php: %w", err)
	}
	return p, p.registerOutputs(ctx)
}

func newPhpFargate(ctx *pulumi.Context, name string, a AwsPhpServiceArgs, p *PhpService) error {
	rt := a.Runtime
	var err error
	image, err := newServiceImage(ctx, name, rt, a.Image, phpBuild(a.AppPath, a.Dockerfile, "production", a.PhpVersion), p)
	if err != nil {
		return err
	}
	p.Repository, p.Image = image.repository, image.image
	appSecret, err := newPassword(ctx, name+"-kernel-secret", 32, p)
	if err != nil {
		return err
	}
	secret, err := newJSONSecret(ctx, name+"-secret", "Symfony APP_SECRET of the sudoku app", rt, pulumi.StringMap{"APP_SECRET": appSecret}, p)
	if err != nil {
		return err
	}
	p.Secret = secret.resource
	env := a.Env.plain()
	env["DATABASE_SSL_CA"] = pulumi.String(rdsCA)
	secrets := a.Env.secrets(secret.key(appSecret, "APP_SECRET"))
	// The release step: the app's environment, plus the administrator (to create the
	// users) and the migrator (to run the release command as); the app's own container
	// gets neither.
	releaseEnv := map[string]pulumi.StringInput{
		"RELEASE_COMMAND":         pulumi.String(a.Env.ReleaseCommand),
		"DATABASE_ADMIN_USER":     pulumi.String(a.Env.Database.AdminUser),
		"RELEASE_CONNECT_SECONDS": pulumi.Sprintf("%d", releaseConnectSeconds),
	}
	releaseSecrets := map[string]Secret{
		"DATABASE_ADMIN_PASSWORD": a.Env.Database.AdminPassword,
		"MIGRATOR_DATABASE_URL":   a.Env.Database.MigratorURLSecret,
	}
	for k, v := range env {
		releaseEnv[k] = v
	}
	for k, v := range secrets {
		releaseSecrets[k] = v
	}
	svc, err := newFargateService(ctx, fargateSpec{
		name:              name,
		rt:                rt,
		image:             image.ref,
		repositoryArn:     image.repositoryArn,
		port:              PhpPort,
		cpu:               a.CPU,
		memory:            a.Memory,
		env:               env,
		secrets:           secrets,
		release:           &releaseContainer{name: "release", command: []string{"app-release"}, env: releaseEnv, secrets: releaseSecrets, waits: releaseConnectSeconds},
		health:            phpHealth,
		writablePaths:     []string{"/tmp", "/var/www/html/var"},
		securityGroupID:   rt.Network.SecurityGroupIDs.MapIndex(pulumi.String(TierApp)),
		targetGroupArn:    a.TargetGroupArn,
		desiredCount:      a.MinTasks,
		minHealthyPercent: 100,
		maxPercent:        200,
		scaled:            true,
		spot:              a.Spot,
		onDemandBase:      a.OnDemandTasks,
	}, p)
	if err != nil {
		return err
	}
	p.Service, p.TaskDefinition, p.LogGroup = svc.service, svc.taskDefinition, svc.logGroup
	if err := autoScale(ctx, name, a, rt, svc, p); err != nil {
		return err
	}
	p.ServiceName = svc.service.Name
	p.ImageRef = image.ref
	return nil
}

// autoScale tracks CPU and memory: whichever needs more tasks wins; scale-in is slower than
// scale-out, so that a burst does not flap.
func autoScale(ctx *pulumi.Context, name string, a AwsPhpServiceArgs, rt AwsRuntime, svc *fargateService, parent pulumi.Resource) error {
	target, err := appautoscaling.NewTarget(ctx, name+"-scaling", &appautoscaling.TargetArgs{
		ServiceNamespace:  pulumi.String("ecs"),
		ScalableDimension: pulumi.String("ecs:service:DesiredCount"),
		ResourceId:        pulumi.Sprintf("service/%s/%s", rt.Cluster.Name, svc.service.Name),
		MinCapacity:       pulumi.Int(a.MinTasks),
		MaxCapacity:       pulumi.Int(a.MaxTasks),
	}, pulumi.Parent(parent))
	if err != nil {
		return err
	}
	for _, m := range []struct {
		suffix, metric string
		value          int
	}{{"cpu", "ECSServiceAverageCPUUtilization", a.CPUTarget}, {"memory", "ECSServiceAverageMemoryUtilization", a.MemoryTarget}} {
		_, err := appautoscaling.NewPolicy(ctx, name+"-scale-on-"+m.suffix, &appautoscaling.PolicyArgs{
			PolicyType:        pulumi.String("TargetTrackingScaling"),
			ServiceNamespace:  target.ServiceNamespace,
			ScalableDimension: target.ScalableDimension,
			ResourceId:        target.ResourceId,
			TargetTrackingScalingPolicyConfiguration: appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs{
				PredefinedMetricSpecification: appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs{
					PredefinedMetricType: pulumi.String(m.metric),
				},
				TargetValue:      pulumi.Float64(float64(m.value)),
				ScaleOutCooldown: pulumi.Int(60),
				ScaleInCooldown:  pulumi.Int(300),
			},
		}, pulumi.Parent(parent))
		if err != nil {
			return err
		}
	}
	return nil
}

// awsPhpService is the ECS side of a PhpService.
type awsPhpService struct {
	// Repository, TaskDefinition, Service, LogGroup and Secret (APP_SECRET) are the ECS
	// side (AWS only).
	Repository     *ecr.Repository
	TaskDefinition *ecs.TaskDefinition
	Service        *ecs.Service
	LogGroup       *cloudwatch.LogGroup
	Secret         *secretsmanager.Secret
}
