// Package components holds the six component resources of the sudoku stack: Network,
// Database, Cache, MercureHub, PhpService and LoadBalancer.
//
// Each component has one Go type, one type token and one set of outputs, whichever target
// builds it. The Docker constructors (NewDockerX) build the local stack; the AWS constructors
// (NewAwsX) build staging. Where a target has no counterpart for an output (security groups
// on Docker, say), the output is empty and the field's comment says so.
package components

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const typePrefix = "sudoku:components:"

// Secret is a credential in the two forms its consumers need: the value itself (a Pulumi
// secret, which a Docker container's environment takes) and, on AWS, where it lives in
// Secrets Manager (which an ECS task definition's `secrets` takes). Locally Arn is empty.
type Secret struct {
	// Value is the secret value; it is always a Pulumi secret.
	Value pulumi.StringOutput
	// Arn is the Secrets Manager secret that holds the value; empty on Docker.
	Arn pulumi.StringOutput
	// Key is the JSON key inside the Secrets Manager secret; "" when the secret is the value.
	Key string
	// Version is the Secrets Manager version ID of the stored value (not secret); empty on
	// Docker. A new value is a new version.
	Version pulumi.StringOutput
}

// ValueFrom is the reference an ECS container definition's `secrets[].valueFrom` takes.
func (s Secret) ValueFrom() pulumi.StringOutput {
	if s.Key == "" {
		return s.Arn
	}
	return pulumi.Sprintf("%s:%s::", s.Arn, s.Key)
}

// localSecret is a Secret that exists only as a value (the Docker target).
func localSecret(value pulumi.StringOutput) Secret {
	return Secret{
		Value:   pulumi.ToSecret(value).(pulumi.StringOutput),
		Arn:     pulumi.String("").ToStringOutput(),
		Version: pulumi.String("").ToStringOutput(),
	}
}

// physicalName is the name of a real object (container, volume, network, image): the project
// and stack come first, so that two stacks can run side by side on one Docker engine.
func physicalName(ctx *pulumi.Context, suffix string) string {
	return strings.ToLower(fmt.Sprintf("%s-%s-%s", ctx.Project(), ctx.Stack(), suffix))
}

// newPassword generates a credential that is safe inside URLs (letters and digits only).
// 32 characters of 62 symbols are about 190 bits.
func newPassword(ctx *pulumi.Context, name string, length int, parent pulumi.Resource) (pulumi.StringOutput, error) {
	pw, err := random.NewRandomPassword(ctx, name, &random.RandomPasswordArgs{
		Length:  pulumi.Int(length),
		Special: pulumi.Bool(false),
	}, pulumi.Parent(parent))
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("%s: %w", name, err)
	}
	// The provider marks `result` secret; saying so here keeps it secret whatever the engine.
	return pulumi.ToSecret(pw.Result).(pulumi.StringOutput), nil
}

// fieldError names the argument that is wrong and what is allowed.
func fieldError(component, field, allowed string, got any) error {
	return fmt.Errorf("%s: %s must be %s, got %v", component, field, allowed, got)
}

// after is v, resolved only once res exists: whatever consumes it is created after res.
func after(res pulumi.CustomResource, v pulumi.StringOutput) pulumi.StringOutput {
	return pulumi.All(res.ID(), v).ApplyT(func(xs []any) string { return xs[1].(string) }).(pulumi.StringOutput)
}
