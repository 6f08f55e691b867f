//go:build !sudoku_local

package components

import (
	"fmt"

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
	// Account is where the stack runs, for ARNs in policy conditions; required.
	Account AwsAccount
	// KmsKeyArn encrypts the secrets, Aurora, ElastiCache, the ECR repositories and every
	// log group; required.
	KmsKeyArn pulumi.StringInput
	// ExecLogGroup, when set, turns ECS Exec on: sessions are logged there (default nil:
	// ECS Exec is off).
	ExecLogGroup *cloudwatch.LogGroup
	// Cluster is the ECS cluster the services run in; required by the services.
	Cluster *ecs.Cluster
	// Namespace is the private DNS namespace services register in; required by the services.
	Namespace *servicediscovery.PrivateDnsNamespace
	// LogRetentionDays is every log group's retention; default 7.
	LogRetentionDays int
	// Protect guards stateful resources against deletion and replacement; set by the caller
	// (staging sets it from sudoku:protect, default true).
	Protect bool
	// EcrReaderAccounts are other AWS accounts whose principals may pull the stack's images
	// (production's, when it runs elsewhere); default none.
	EcrReaderAccounts []string
	// CPUArchitecture is the tasks' CPU, and the platform images are built for: "x86_64"
	// (default) or "arm64".
	CPUArchitecture string
	// CapacityProviders is the cluster's FARGATE and FARGATE_SPOT association, which a
	// service on Fargate Spot waits for; required by the services.
	CapacityProviders *ecs.ClusterCapacityProviders
}

// platform is the Docker platform of the runtime's architecture.
func (rt AwsRuntime) platform() string {
	if rt.CPUArchitecture == "arm64" {
		return "linux/arm64"
	}
	return "linux/amd64"
}

func (rt AwsRuntime) withDefaults() AwsRuntime {
	if rt.LogRetentionDays == 0 {
		rt.LogRetentionDays = 7
	}
	if rt.CPUArchitecture == "" {
		rt.CPUArchitecture = "x86_64"
	}
	return rt
}

func (rt AwsRuntime) validate(component string, needsCluster bool) error {
	if rt.Network == nil || rt.Network.Vpc == nil {
		return fieldError(component, "Runtime.Network", "an AWS network (NewAwsNetwork)", "none")
	}
	if err := rt.Account.validate(component, "Runtime.Account"); err != nil {
		return err
	}
	if rt.KmsKeyArn == nil {
		return fieldError(component, "Runtime.KmsKeyArn", "set", "nil")
	}
	if needsCluster && (rt.Cluster == nil || rt.Namespace == nil || rt.CapacityProviders == nil) {
		return fieldError(component, "Runtime.Cluster, Runtime.Namespace and Runtime.CapacityProviders", "set", "nil")
	}
	if rt.CPUArchitecture != "x86_64" && rt.CPUArchitecture != "arm64" {
		return fieldError(component, "Runtime.CPUArchitecture", "x86_64 or arm64", rt.CPUArchitecture)
	}
	return nil
}

// AwsAccount is the account, partition and region a stack runs in: the parts of the ARNs
// that policy conditions name.
type AwsAccount struct {
	// ID is the account ID; required.
	ID pulumi.StringInput
	// Partition is "aws", or "aws-cn" and the like; required.
	Partition pulumi.StringInput
	// Region is the stack's region; required.
	Region string
}

func (a AwsAccount) validate(component, field string) error {
	if a.ID == nil || a.Partition == nil || a.Region == "" {
		return fieldError(component, field, "an account ID, partition and region", "a missing one")
	}
	return nil
}

// arn is the ARN of resource (which may hold a wildcard) of service in the account's region.
func (a AwsAccount) arn(service, resource string) pulumi.StringOutput {
	return pulumi.Sprintf("arn:%s:%s:%s:%s:%s", a.Partition, service, a.Region, a.ID, resource)
}

// stateful are the options of a resource that holds data or credentials: protected (when
// the stack protects) against deletion and replacement.
func (rt AwsRuntime) stateful(parent pulumi.Resource) []pulumi.ResourceOption {
	return []pulumi.ResourceOption{pulumi.Parent(parent), pulumi.Protect(rt.Protect)}
}

// NewLogGroup creates a log group with the stack's retention, encrypted with the stack's key.
func NewLogGroup(ctx *pulumi.Context, name, logName string, retention int, kmsKeyArn pulumi.StringInput, opts ...pulumi.ResourceOption) (*cloudwatch.LogGroup, error) {
	return cloudwatch.NewLogGroup(ctx, name, &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(logName),
		RetentionInDays: pulumi.Int(retention),
		KmsKeyId:        kmsKeyArn,
	}, opts...)
}

// newLogGroup is NewLogGroup with the runtime's retention and key, as parent's child.
func (rt AwsRuntime) newLogGroup(ctx *pulumi.Context, name, logName string, parent pulumi.Resource) (*cloudwatch.LogGroup, error) {
	return NewLogGroup(ctx, name, logName, rt.LogRetentionDays, rt.KmsKeyArn, pulumi.Parent(parent))
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

// serviceTrust lets an AWS service assume a role, only on behalf of this account
// (aws:SourceAccount) and, where the service documents it, only for resources matching
// sourceArn (aws:SourceArn): AWS's confused-deputy protection for service roles.
func serviceTrust(service string, account AwsAccount, sourceArn pulumi.StringInput) pulumi.StringOutput {
	condition := pulumi.Map{"StringEquals": pulumi.Map{"aws:SourceAccount": account.ID}}
	if sourceArn != nil {
		condition["ArnLike"] = pulumi.Map{"aws:SourceArn": sourceArn}
	}
	return policy(pulumi.Map{
		"Effect":    pulumi.String("Allow"),
		"Principal": pulumi.Map{"Service": pulumi.String(service)},
		"Action":    pulumi.String("sts:AssumeRole"),
		"Condition": condition,
	})
}
