package components

import (
	"fmt"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DockerNetworkArgs configures the local network. It has no settings yet: the network's name
// comes from the project and stack, so that two local stacks never share one.
type DockerNetworkArgs struct{}

// NewDockerNetwork creates the stack's Docker bridge network.
func NewDockerNetwork(ctx *pulumi.Context, name string, _ *DockerNetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	n := &Network{}
	if err := ctx.RegisterComponentResource(typePrefix+"Network", name, n, opts...); err != nil {
		return nil, err
	}
	net, err := docker.NewNetwork(ctx, name+"-bridge", &docker.NetworkArgs{
		Name:   pulumi.String(physicalName(ctx, "net")),
		Driver: pulumi.String("bridge"),
		Labels: docker.NetworkLabelArray{
			docker.NetworkLabelArgs{Label: pulumi.String("sudoku.stack"), Value: pulumi.String(ctx.Stack())},
		},
	}, pulumi.Parent(n))
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	n.DockerNetwork = net
	n.ID = net.ID().ToStringOutput()
	n.Name = net.Name
	n.PublicSubnetIDs = pulumi.StringArray{}.ToStringArrayOutput()
	n.PrivateSubnetIDs = pulumi.StringArray{}.ToStringArrayOutput()
	n.SecurityGroupIDs = pulumi.StringMap{}.ToStringMapOutput()
	return n, n.registerOutputs(ctx)
}
