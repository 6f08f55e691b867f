package components

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/servicediscovery"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AwsRuntime is what the stack's AWS components share. The caller creates these once: the
// provider (passed as a resource option), the KMS key, the ECS cluster and the service
// discovery namespace.
type AwsRuntime struct {
	// Network is the stack's VPC; required.
	Network *Network
	// Region is the provider's region, for log configuration and endpoints; required.
	Region string
	// KmsKeyArn encrypts the secrets, Aurora, ElastiCache and the ECR repositories; required.
	KmsKeyArn pulumi.StringInput
	// Cluster is the ECS cluster the services run in; required by the services.
	Cluster *ecs.Cluster
	// Namespace is the private DNS namespace services register in; required by the services.
	Namespace *servicediscovery.PrivateDnsNamespace
	// LogRetentionDays is every log group's retention; default 7.
	LogRetentionDays int
	// Protect guards stateful resources against deletion and replacement; set by the caller
	// (staging sets it from sudoku:protect, default true).
	Protect bool
}

func (rt AwsRuntime) withDefaults() AwsRuntime {
	if rt.LogRetentionDays == 0 {
		rt.LogRetentionDays = 7
	}
	return rt
}

func (rt AwsRuntime) validate(component string, needsCluster bool) error {
	if rt.Network == nil || rt.Network.Vpc == nil {
		return fieldError(component, "Runtime.Network", "an AWS network (NewAwsNetwork)", "none")
	}
	if rt.Region == "" {
		return fieldError(component, "Runtime.Region", "set", `""`)
	}
	if rt.KmsKeyArn == nil {
		return fieldError(component, "Runtime.KmsKeyArn", "set", "nil")
	}
	if needsCluster && (rt.Cluster == nil || rt.Namespace == nil) {
		return fieldError(component, "Runtime.Cluster and Runtime.Namespace", "set", "nil")
	}
	return nil
}

// stateful are the options of a resource that holds data or credentials: protected (when
// the stack protects) against deletion and replacement.
func (rt AwsRuntime) stateful(parent pulumi.Resource) []pulumi.ResourceOption {
	return []pulumi.ResourceOption{pulumi.Parent(parent), pulumi.Protect(rt.Protect)}
}

// fargateSizes lists the memory sizes (MiB) Fargate allows for each CPU size.
var fargateSizes = map[int][]int{
	256:   {512, 1024, 2048},
	512:   steps(1024, 4096, 1024),
	1024:  steps(2048, 8192, 1024),
	2048:  steps(4096, 16384, 1024),
	4096:  steps(8192, 30720, 1024),
	8192:  steps(16384, 61440, 4096),
	16384: steps(32768, 122880, 8192),
}

func steps(from, to, by int) []int {
	var out []int
	for v := from; v <= to; v += by {
		out = append(out, v)
	}
	return out
}

// ValidFargateSize reports whether Fargate runs a task with cpu units and memory MiB.
func ValidFargateSize(cpu, memory int) bool {
	return slices.Contains(fargateSizes[cpu], memory)
}

// newLogGroup creates a log group with the stack's retention.
func newLogGroup(ctx *pulumi.Context, name, logName string, retention int, parent pulumi.Resource) (*cloudwatch.LogGroup, error) {
	return cloudwatch.NewLogGroup(ctx, name, &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(logName),
		RetentionInDays: pulumi.Int(retention),
	}, pulumi.Parent(parent))
}

// jsonSecret is a Secrets Manager secret that holds a JSON document.
type jsonSecret struct {
	resource *secretsmanager.Secret
	// arn resolves once the value is stored, so that no task starts before it can read it.
	arn pulumi.StringOutput
	// version is the stored value's version ID.
	version pulumi.StringOutput
}

// newJSONSecret stores values as one JSON secret in Secrets Manager, encrypted with the
// stack's key. Consumers reference single keys (jsonSecret.key).
func newJSONSecret(ctx *pulumi.Context, name, description string, rt AwsRuntime, values pulumi.StringMap, parent pulumi.Resource) (*jsonSecret, error) {
	secret, err := secretsmanager.NewSecret(ctx, name, &secretsmanager.SecretArgs{
		NamePrefix:  pulumi.String(fmt.Sprintf("%s/%s/%s-", ctx.Project(), ctx.Stack(), name)),
		Description: pulumi.String(description),
		KmsKeyId:    rt.KmsKeyArn,
		// A deleted secret can be restored for a week.
		RecoveryWindowInDays: pulumi.Int(7),
	}, rt.stateful(parent)...)
	if err != nil {
		return nil, err
	}
	version, err := secretsmanager.NewSecretVersion(ctx, name+"-value", &secretsmanager.SecretVersionArgs{
		SecretId:     secret.ID(),
		SecretString: pulumi.ToSecret(pulumi.JSONMarshal(values)).(pulumi.StringOutput),
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, err
	}
	return &jsonSecret{resource: secret, arn: after(version, secret.Arn), version: version.VersionId}, nil
}

// key is one key of the secret, as consumers take it.
func (s *jsonSecret) key(value pulumi.StringOutput, key string) Secret {
	return Secret{Value: pulumi.ToSecret(value).(pulumi.StringOutput), Arn: s.arn, Key: key, Version: s.version}
}

// policy is an IAM policy document; its resources may be outputs.
func policy(statements ...pulumi.Map) pulumi.StringOutput {
	list := pulumi.Array{}
	for _, s := range statements {
		list = append(list, s)
	}
	return pulumi.JSONMarshal(pulumi.Map{"Version": pulumi.String("2012-10-17"), "Statement": list})
}

func allow(actions []string, resources ...pulumi.StringInput) pulumi.Map {
	acts := pulumi.StringArray{}
	for _, a := range actions {
		acts = append(acts, pulumi.String(a))
	}
	res := pulumi.StringArray{}
	res = append(res, resources...)
	return pulumi.Map{"Effect": pulumi.String("Allow"), "Action": acts, "Resource": res}
}

func serviceTrust(service string) pulumi.StringOutput {
	return policy(pulumi.Map{
		"Effect":    pulumi.String("Allow"),
		"Principal": pulumi.Map{"Service": pulumi.String(service)},
		"Action":    pulumi.String("sts:AssumeRole"),
	})
}
