//go:build !sudoku_local

package components

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/servicediscovery"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AwsMercureHubArgs configures the hub's ECS service.
type AwsMercureHubArgs struct {
	// Runtime is the network, cluster, key and settings the stack shares; required.
	Runtime AwsRuntime
	// BuildContext is the image's build context; default "docker/mercure".
	BuildContext string
	// CPU and Memory size the task (Fargate units and MiB); default 256 and 512.
	CPU, Memory int
	// Image, when set, is the image to run (an ECR image by digest, as promotion gives
	// it): nothing is built or pushed, and the stack creates no repository. Default "".
	Image string
	// CorsOrigins are the origins browsers may subscribe from; required (the caller passes
	// the stack's own URL and any extra origins).
	CorsOrigins pulumi.StringArrayInput
	// TargetGroupArn is the load balancer's target group for the hub; required.
	TargetGroupArn pulumi.StringInput
}

func (a AwsMercureHubArgs) withDefaults() AwsMercureHubArgs {
	a.Runtime = a.Runtime.withDefaults()
	if a.BuildContext == "" {
		a.BuildContext = "docker/mercure"
	}
	if a.CPU == 0 {
		a.CPU = 256
	}
	if a.Memory == 0 {
		a.Memory = 512
	}
	return a
}

func (a AwsMercureHubArgs) validate() error {
	if err := a.Runtime.validate("mercure", true); err != nil {
		return err
	}
	if !ValidFargateSize(a.CPU, a.Memory) {
		return fieldError("mercure", "Memory", fmt.Sprintf("a size Fargate allows with CPU %d", a.CPU), a.Memory)
	}
	if a.Image != "" && !ValidImageRef(a.Image) {
		return fieldError("mercure", "Image", "an ECR image by digest (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:...)", fmt.Sprintf("%q", a.Image))
	}
	if a.CorsOrigins == nil || a.TargetGroupArn == nil {
		return fieldError("mercure", "CorsOrigins and TargetGroupArn", "set", "nil")
	}
	return nil
}

// NewAwsMercureHub runs the hub as a Fargate service of exactly one task. The Bolt transport
// keeps its state in one process: a second hub would split publishers and subscribers
// between two histories. So the service never scales, and a deployment stops the old task
// before it starts the new one (a few seconds without a hub; clients reconnect).
func NewAwsMercureHub(ctx *pulumi.Context, name string, args *AwsMercureHubArgs, opts ...pulumi.ResourceOption) (*MercureHub, error) {
	a := args.withDefaults()
	if err := a.validate(); err != nil {
		return nil, err
	}
	m := &MercureHub{}
	if err := ctx.RegisterComponentResource(typePrefix+"MercureHub", name, m, opts...); err != nil {
		return nil, err
	}
	if err := newMercureFargate(ctx, name, a, m); err != nil {
		return nil, fmt.Errorf("mercure: %w", err)
	}
	return m, m.registerOutputs(ctx)
}

func newMercureFargate(ctx *pulumi.Context, name string, a AwsMercureHubArgs, m *MercureHub) error {
	rt := a.Runtime
	image, err := newServiceImage(ctx, name, rt, a.Image, imageBuild{context: a.BuildContext}, m)
	if err != nil {
		return err
	}
	m.Repository, m.Image = image.repository, image.image
	publisher, subscriber, err := newMercureKeys(ctx, name, m)
	if err != nil {
		return err
	}
	keys, err := newJSONSecret(ctx, name+"-jwt-keys", "Mercure publisher and subscriber JWT keys", rt, pulumi.StringMap{
		"publisher_jwt_key":  publisher,
		"subscriber_jwt_key": subscriber,
	}, m)
	if err != nil {
		return err
	}
	m.Keys = keys.resource
	m.PublisherKey = keys.key(publisher, "publisher_jwt_key")
	m.SubscriberKey = keys.key(subscriber, "subscriber_jwt_key")

	// The app publishes to the hub inside the VPC, by a private DNS name.
	discovery, err := servicediscovery.NewService(ctx, name+"-discovery", &servicediscovery.ServiceArgs{
		Name: pulumi.String(name),
		DnsConfig: servicediscovery.ServiceDnsConfigArgs{
			NamespaceId:   rt.Namespace.ID(),
			RoutingPolicy: pulumi.String("MULTIVALUE"),
			DnsRecords: servicediscovery.ServiceDnsConfigDnsRecordArray{
				servicediscovery.ServiceDnsConfigDnsRecordArgs{Ttl: pulumi.Int(10), Type: pulumi.String("A")},
			},
		},
		HealthCheckCustomConfig: servicediscovery.ServiceHealthCheckCustomConfigArgs{FailureThreshold: pulumi.Int(1)},
	}, pulumi.Parent(m))
	if err != nil {
		return err
	}
	origins := a.CorsOrigins.ToStringArrayOutput().ApplyT(corsOriginsValue).(pulumi.StringOutput)
	svc, err := newFargateService(ctx, fargateSpec{
		name:          name,
		rt:            rt,
		image:         image.ref,
		repositoryArn: image.repositoryArn,
		port:          MercurePort,
		cpu:           a.CPU,
		memory:        a.Memory,
		env: map[string]pulumi.StringInput{
			"SERVER_NAME":          pulumi.Sprintf(":%d", MercurePort),
			"MERCURE_CORS_ORIGINS": origins,
		},
		secrets: map[string]Secret{
			"MERCURE_PUBLISHER_JWT_KEY":  m.PublisherKey,
			"MERCURE_SUBSCRIBER_JWT_KEY": m.SubscriberKey,
		},
		health:            mercureHealth,
		writablePaths:     []string{"/data", "/config"},
		securityGroupID:   rt.Network.SecurityGroupIDs.MapIndex(pulumi.String(TierMercure)),
		targetGroupArn:    a.TargetGroupArn,
		desiredCount:      1,
		minHealthyPercent: 0,
		maxPercent:        100,
		registry:          discovery,
	}, m)
	if err != nil {
		return err
	}
	m.Service = svc.service
	m.TaskDefinition = svc.taskDefinition
	m.LogGroup = svc.logGroup
	m.ServiceName = svc.service.Name
	m.ImageRef = image.ref
	m.InternalURL = pulumi.Sprintf("http://%s.%s:%d%s", name, rt.Namespace.Name, MercurePort, MercurePath)
	m.PublisherJWTKey = m.PublisherKey.Value
	m.SubscriberJWTKey = m.SubscriberKey.Value
	return nil
}

// awsMercureHub is the ECS side of a MercureHub.
type awsMercureHub struct {
	// Repository, TaskDefinition, Service, LogGroup and Keys are the ECR repository, the
	// task definition, the ECS service, its log group and the JWT keys' secret (AWS only).
	Repository     *ecr.Repository
	TaskDefinition *ecs.TaskDefinition
	Service        *ecs.Service
	LogGroup       *cloudwatch.LogGroup
	Keys           *secretsmanager.Secret
}
