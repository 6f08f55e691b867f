package components

import (
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Network is where the stack's services talk to each other: a Docker bridge network
// locally; on AWS a VPC with public and private subnets and the security-group chain.
type Network struct {
	pulumi.ResourceState

	// ID is the Docker network's ID, or the VPC's ID.
	ID pulumi.StringOutput `pulumi:"id"`
	// Name is the Docker network's name, or the VPC's Name tag.
	Name pulumi.StringOutput `pulumi:"name"`
	// PublicSubnetIDs are the subnets with a route to the internet gateway; empty on Docker.
	PublicSubnetIDs pulumi.StringArrayOutput `pulumi:"publicSubnetIds"`
	// PrivateSubnetIDs are the subnets for tasks and data stores; empty on Docker.
	PrivateSubnetIDs pulumi.StringArrayOutput `pulumi:"privateSubnetIds"`
	// SecurityGroupIDs holds one security group per tier (alb, app, mercure, database,
	// cache); empty on Docker, where the bridge network is the boundary.
	SecurityGroupIDs pulumi.StringMapOutput `pulumi:"securityGroupIds"`

	// AvailabilityZones are the AZs the subnets are in, in subnet order (AWS only).
	AvailabilityZones []string

	// DockerNetwork is the bridge network (Docker only).
	DockerNetwork *docker.Network
	// awsNetwork holds the AWS side's child resources (network_aws.go): Vpc and FlowLogs.
	awsNetwork
}

func (n *Network) registerOutputs(ctx *pulumi.Context) error {
	return ctx.RegisterResourceOutputs(n, pulumi.Map{
		"id":               n.ID,
		"name":             n.Name,
		"publicSubnetIds":  n.PublicSubnetIDs,
		"privateSubnetIds": n.PrivateSubnetIDs,
		"securityGroupIds": n.SecurityGroupIDs,
	})
}
