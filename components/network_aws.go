//go:build !sudoku_local

package components

import (
	"fmt"
	"math/big"
	"net"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NAT gateway strategies.
const (
	NatOnePerAz = "one-per-az"
	NatSingle   = "single"
	NatNone     = "none"
)

// AwsNetworkArgs configures the VPC.
type AwsNetworkArgs struct {
	// CidrBlock is the VPC's network, /16 to /20; default "10.0.0.0/16". Each subnet gets 1/16.
	CidrBlock string
	// AvailabilityZones are the AZs to use, at least 2; required (the caller takes them from
	// getAvailabilityZones).
	AvailabilityZones []string
	// NatGateways is "one-per-az" (default), "single" or "none" (interface endpoints instead).
	NatGateways string
	// Account is the VPC's account and region (endpoint service names, the flow log role's
	// trust); required.
	Account AwsAccount
	// KmsKeyArn encrypts the flow log group; required.
	KmsKeyArn pulumi.StringInput
	// FlowLogRetentionDays is the flow log group's retention; default 7.
	FlowLogRetentionDays int
}

func (a AwsNetworkArgs) withDefaults() AwsNetworkArgs {
	if a.CidrBlock == "" {
		a.CidrBlock = "10.0.0.0/16"
	}
	if a.NatGateways == "" {
		a.NatGateways = NatOnePerAz
	}
	if a.FlowLogRetentionDays == 0 {
		a.FlowLogRetentionDays = 7
	}
	return a
}

func (a AwsNetworkArgs) validate() error {
	_, network, err := net.ParseCIDR(a.CidrBlock)
	if err != nil || network.IP.To4() == nil {
		return fieldError("network", "CidrBlock", "an IPv4 CIDR block", a.CidrBlock)
	}
	if ones, _ := network.Mask.Size(); ones < 16 || ones > 20 {
		return fieldError("network", "CidrBlock", "a /16 to /20 network", a.CidrBlock)
	}
	if len(a.AvailabilityZones) < 2 || len(a.AvailabilityZones) > 6 {
		return fieldError("network", "AvailabilityZones", "2 to 6 zones (the load balancer and Aurora need two)", len(a.AvailabilityZones))
	}
	switch a.NatGateways {
	case NatOnePerAz, NatSingle, NatNone:
	default:
		return fieldError("network", "NatGateways", "one-per-az, single or none", a.NatGateways)
	}
	if err := a.Account.validate("network", "Account"); err != nil {
		return err
	}
	if a.KmsKeyArn == nil {
		return fieldError("network", "KmsKeyArn", "set (the flow logs are encrypted)", "nil")
	}
	return nil
}

// SubnetCIDR is the index-th subnet of cidr with newBits more bits of prefix, like
// Terraform's cidrsubnet: SubnetCIDR("10.0.0.0/16", 4, 1) is "10.0.16.0/20".
func SubnetCIDR(cidr string, newBits, index int) (string, error) {
	_, network, err := net.ParseCIDR(cidr)
	if err != nil || network.IP.To4() == nil {
		return "", fmt.Errorf("%q is not an IPv4 CIDR block", cidr)
	}
	ones, bits := network.Mask.Size()
	if ones+newBits > bits || index < 0 || index >= 1<<newBits {
		return "", fmt.Errorf("%q has no subnet %d of /%d", cidr, index, ones+newBits)
	}
	base := new(big.Int).SetBytes(network.IP.To4())
	offset := new(big.Int).Lsh(big.NewInt(int64(index)), uint(bits-ones-newBits))
	ip := net.IP(new(big.Int).Add(base, offset).FillBytes(make([]byte, 4)))
	return fmt.Sprintf("%s/%d", ip, ones+newBits), nil
}

// The subnets' places in the VPC: private subnets take the first sixteenths, public ones
// start halfway, so that either tier can grow to 8 AZs without renumbering.
const (
	subnetBits         = 4
	publicSubnetOffset = 8
)

// anywhere is every IPv4 address.
const anywhere = "0.0.0.0/0"

// tiers' security groups, by the key they have in Network.SecurityGroupIDs.
const (
	TierAlb     = "alb"
	TierApp     = "app"
	TierMercure = "mercure"
)

type vpcBuilder struct {
	ctx    *pulumi.Context
	name   string
	args   AwsNetworkArgs
	n      *Network
	vpc    *ec2.Vpc
	public []*ec2.Subnet
	routes []*ec2.RouteTable // private route tables
	sgs    map[string]*ec2.SecurityGroup
}

// NewAwsNetwork creates the VPC: public and private subnets in each AZ, an internet gateway,
// NAT gateways (or interface endpoints), an S3 gateway endpoint, flow logs, a default
// security group with no rules, and the security groups of the load balancer, app and hub.
func NewAwsNetwork(ctx *pulumi.Context, name string, args *AwsNetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	a := args.withDefaults()
	if err := a.validate(); err != nil {
		return nil, err
	}
	n := &Network{}
	if err := ctx.RegisterComponentResource(typePrefix+"Network", name, n, opts...); err != nil {
		return nil, err
	}
	b := &vpcBuilder{ctx: ctx, name: name, args: a, n: n, sgs: map[string]*ec2.SecurityGroup{}}
	for _, step := range []func() error{b.createVpc, b.createPublicSubnets, b.createPrivateSubnets, b.createSecurityGroups, b.createEndpoints, b.createFlowLogs} {
		if err := step(); err != nil {
			return nil, fmt.Errorf("network: %w", err)
		}
	}

	n.Vpc = b.vpc
	n.AvailabilityZones = a.AvailabilityZones
	n.ID = b.vpc.ID().ToStringOutput()
	n.Name = pulumi.String(physicalName(ctx, "vpc")).ToStringOutput()
	n.SecurityGroupIDs = pulumi.StringMap{
		TierAlb:     b.sgs[TierAlb].ID(),
		TierApp:     b.sgs[TierApp].ID(),
		TierMercure: b.sgs[TierMercure].ID(),
	}.ToStringMapOutput()
	return n, n.registerOutputs(ctx)
}

func (b *vpcBuilder) opts() pulumi.ResourceOption { return pulumi.Parent(b.n) }

func nameTag(name string) pulumi.StringMap { return pulumi.StringMap{"Name": pulumi.String(name)} }

func (b *vpcBuilder) createVpc() error {
	var err error
	b.vpc, err = ec2.NewVpc(b.ctx, b.name+"-vpc", &ec2.VpcArgs{
		CidrBlock:          pulumi.String(b.args.CidrBlock),
		EnableDnsHostnames: pulumi.Bool(true),
		EnableDnsSupport:   pulumi.Bool(true),
		Tags:               nameTag(physicalName(b.ctx, "vpc")),
	}, b.opts())
	if err != nil {
		return err
	}
	// Adopt the VPC's default security group and strip its rules, so that nothing placed in
	// it by mistake can talk to anything.
	_, err = ec2.NewDefaultSecurityGroup(b.ctx, b.name+"-default-sg", &ec2.DefaultSecurityGroupArgs{
		VpcId: b.vpc.ID(),
		Tags:  nameTag(physicalName(b.ctx, "default-no-traffic")),
	}, b.opts())
	return err
}

func (b *vpcBuilder) subnet(tier string, i int, offset int) (*ec2.Subnet, error) {
	az := b.args.AvailabilityZones[i]
	cidr, err := SubnetCIDR(b.args.CidrBlock, subnetBits, offset+i)
	if err != nil {
		return nil, err
	}
	return ec2.NewSubnet(b.ctx, fmt.Sprintf("%s-%s-%s", b.name, tier, az), &ec2.SubnetArgs{
		VpcId:            b.vpc.ID(),
		CidrBlock:        pulumi.String(cidr),
		AvailabilityZone: pulumi.String(az),
		// Nothing gets a public IP by being launched here; only the load balancer is public.
		MapPublicIpOnLaunch: pulumi.Bool(false),
		Tags: pulumi.StringMap{
			"Name": pulumi.String(physicalName(b.ctx, tier+"-"+az)),
			"Tier": pulumi.String(tier),
		},
	}, b.opts())
}

func (b *vpcBuilder) createPublicSubnets() error {
	igw, err := ec2.NewInternetGateway(b.ctx, b.name+"-igw", &ec2.InternetGatewayArgs{
		VpcId: b.vpc.ID(),
		Tags:  nameTag(physicalName(b.ctx, "igw")),
	}, b.opts())
	if err != nil {
		return err
	}
	table, err := ec2.NewRouteTable(b.ctx, b.name+"-public-rt", &ec2.RouteTableArgs{
		VpcId: b.vpc.ID(),
		Tags:  nameTag(physicalName(b.ctx, "public")),
	}, b.opts())
	if err != nil {
		return err
	}
	if _, err := ec2.NewRoute(b.ctx, b.name+"-public-internet", &ec2.RouteArgs{
		RouteTableId:         table.ID(),
		DestinationCidrBlock: pulumi.String("0.0.0.0/0"),
		GatewayId:            igw.ID(),
	}, b.opts()); err != nil {
		return err
	}
	ids := pulumi.StringArray{}
	for i, az := range b.args.AvailabilityZones {
		s, err := b.subnet("public", i, publicSubnetOffset)
		if err != nil {
			return err
		}
		if _, err := ec2.NewRouteTableAssociation(b.ctx, fmt.Sprintf("%s-public-%s", b.name, az), &ec2.RouteTableAssociationArgs{
			SubnetId:     s.ID(),
			RouteTableId: table.ID(),
		}, b.opts()); err != nil {
			return err
		}
		b.public = append(b.public, s)
		ids = append(ids, s.ID())
	}
	b.n.PublicSubnetIDs = ids.ToStringArrayOutput()
	return nil
}

// natGateways creates the NAT gateways the strategy asks for: one per AZ, one in the first
// AZ, or none.
func (b *vpcBuilder) natGateways() ([]*ec2.NatGateway, error) {
	count := map[string]int{NatOnePerAz: len(b.public), NatSingle: 1, NatNone: 0}[b.args.NatGateways]
	var nats []*ec2.NatGateway
	for i := 0; i < count; i++ {
		az := b.args.AvailabilityZones[i]
		eip, err := ec2.NewEip(b.ctx, fmt.Sprintf("%s-nat-%s", b.name, az), &ec2.EipArgs{
			Domain: pulumi.String("vpc"),
			Tags:   nameTag(physicalName(b.ctx, "nat-"+az)),
		}, b.opts())
		if err != nil {
			return nil, err
		}
		nat, err := ec2.NewNatGateway(b.ctx, fmt.Sprintf("%s-nat-%s", b.name, az), &ec2.NatGatewayArgs{
			AllocationId: eip.ID(),
			SubnetId:     b.public[i].ID(),
			Tags:         nameTag(physicalName(b.ctx, "nat-"+az)),
		}, b.opts())
		if err != nil {
			return nil, err
		}
		nats = append(nats, nat)
	}
	return nats, nil
}

func (b *vpcBuilder) createPrivateSubnets() error {
	nats, err := b.natGateways()
	if err != nil {
		return err
	}
	ids := pulumi.StringArray{}
	for i, az := range b.args.AvailabilityZones {
		s, err := b.subnet("private", i, 0)
		if err != nil {
			return err
		}
		table, err := ec2.NewRouteTable(b.ctx, fmt.Sprintf("%s-private-rt-%s", b.name, az), &ec2.RouteTableArgs{
			VpcId: b.vpc.ID(),
			Tags:  nameTag(physicalName(b.ctx, "private-"+az)),
		}, b.opts())
		if err != nil {
			return err
		}
		if len(nats) > 0 {
			if _, err := ec2.NewRoute(b.ctx, fmt.Sprintf("%s-private-nat-%s", b.name, az), &ec2.RouteArgs{
				RouteTableId:         table.ID(),
				DestinationCidrBlock: pulumi.String("0.0.0.0/0"),
				NatGatewayId:         nats[min(i, len(nats)-1)].ID(),
			}, b.opts()); err != nil {
				return err
			}
		}
		if _, err := ec2.NewRouteTableAssociation(b.ctx, fmt.Sprintf("%s-private-%s", b.name, az), &ec2.RouteTableAssociationArgs{
			SubnetId:     s.ID(),
			RouteTableId: table.ID(),
		}, b.opts()); err != nil {
			return err
		}
		b.routes = append(b.routes, table)
		ids = append(ids, s.ID())
	}
	b.n.PrivateSubnetIDs = ids.ToStringArrayOutput()
	return nil
}

// interfaceEndpoints are what tasks in private subnets need when there is no NAT: pulling
// images, reading secrets, writing logs, and ECS Exec.
var interfaceEndpoints = []string{"ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssmmessages"}

func (b *vpcBuilder) createEndpoints() error {
	tables := pulumi.StringArray{}
	for _, t := range b.routes {
		tables = append(tables, t.ID())
	}
	// Image layers come from S3: a gateway endpoint keeps them off the NAT gateways (and
	// their per-GB charge).
	if _, err := ec2.NewVpcEndpoint(b.ctx, b.name+"-s3", &ec2.VpcEndpointArgs{
		VpcId:           b.vpc.ID(),
		ServiceName:     pulumi.Sprintf("com.amazonaws.%s.s3", b.args.Account.Region),
		VpcEndpointType: pulumi.String("Gateway"),
		RouteTableIds:   tables,
		Tags:            nameTag(physicalName(b.ctx, "s3")),
	}, b.opts()); err != nil {
		return err
	}
	if b.args.NatGateways != NatNone {
		return nil
	}
	sg, err := b.securityGroup("endpoints", "Interface endpoints: HTTPS from the stack's tasks")
	if err != nil {
		return err
	}
	// Only the tasks call AWS APIs: HTTPS from their security groups, not the whole VPC.
	for _, tier := range []string{TierApp, TierMercure} {
		rule := tcpRule{port: 443, peer: b.sgs[tier].ID(), description: tier + " tasks to AWS APIs (ECR, Secrets Manager, logs, ECS Exec)"}
		if err := ingress(b.ctx, b.name+"-endpoints-from-"+tier, sg.ID(), rule, b.n); err != nil {
			return err
		}
	}
	for _, service := range interfaceEndpoints {
		if _, err := ec2.NewVpcEndpoint(b.ctx, b.name+"-"+service, &ec2.VpcEndpointArgs{
			VpcId:             b.vpc.ID(),
			ServiceName:       pulumi.Sprintf("com.amazonaws.%s.%s", b.args.Account.Region, service),
			VpcEndpointType:   pulumi.String("Interface"),
			PrivateDnsEnabled: pulumi.Bool(true),
			SubnetIds:         b.n.PrivateSubnetIDs,
			SecurityGroupIds:  pulumi.StringArray{sg.ID()},
			Tags:              nameTag(physicalName(b.ctx, service)),
		}, b.opts()); err != nil {
			return err
		}
	}
	return nil
}

func (b *vpcBuilder) createFlowLogs() error {
	group, err := NewLogGroup(b.ctx, b.name+"-flow-logs", fmt.Sprintf("/%s/%s/vpc-flow-logs", b.ctx.Project(), b.ctx.Stack()),
		b.args.FlowLogRetentionDays, b.args.KmsKeyArn, b.opts())
	if err != nil {
		return err
	}
	b.n.FlowLogs = group
	role, err := iam.NewRole(b.ctx, b.name+"-flow-logs", &iam.RoleArgs{
		// VPC user guide, "IAM role for publishing flow logs to CloudWatch Logs".
		AssumeRolePolicy: serviceTrust("vpc-flow-logs.amazonaws.com", b.args.Account, b.args.Account.arn("ec2", "vpc-flow-log/*")),
	}, b.opts())
	if err != nil {
		return err
	}
	if _, err := iam.NewRolePolicy(b.ctx, b.name+"-flow-logs", &iam.RolePolicyArgs{
		Role: role.ID(),
		Policy: policy(allow([]string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"},
			pulumi.Sprintf("%s:*", group.Arn))),
	}, b.opts()); err != nil {
		return err
	}
	_, err = ec2.NewFlowLog(b.ctx, b.name+"-flow-log", &ec2.FlowLogArgs{
		VpcId:                  b.vpc.ID(),
		TrafficType:            pulumi.String("ALL"),
		LogDestinationType:     pulumi.String("cloud-watch-logs"),
		LogDestination:         group.Arn,
		IamRoleArn:             role.Arn,
		MaxAggregationInterval: pulumi.Int(60),
	}, b.opts())
	return err
}

func (b *vpcBuilder) securityGroup(tier, description string) (*ec2.SecurityGroup, error) {
	// Rules are separate resources (below), one per rule, each with a description; the
	// group itself declares none, so AWS's default allow-all egress is removed.
	return ec2.NewSecurityGroup(b.ctx, b.name+"-"+tier, &ec2.SecurityGroupArgs{
		VpcId:       b.vpc.ID(),
		Description: pulumi.String(description),
		Tags:        nameTag(physicalName(b.ctx, tier)),
	}, b.opts())
}

// createSecurityGroups builds the chain: internet -> ALB (80, 443) -> app (8080) and hub
// (3000); the app also reaches the hub to publish. Tasks reach AWS APIs over HTTPS. The
// database and cache add their own groups, open to the app only.
func (b *vpcBuilder) createSecurityGroups() error {
	for _, g := range []struct{ tier, description string }{
		{TierAlb, "Load balancer: HTTP and HTTPS from the internet"},
		{TierApp, "App tasks: HTTP from the load balancer"},
		{TierMercure, "Mercure hub: HTTP from the load balancer and the app"},
	} {
		sg, err := b.securityGroup(g.tier, g.description)
		if err != nil {
			return err
		}
		b.sgs[g.tier] = sg
	}
	alb, app, hub := b.sgs[TierAlb].ID(), b.sgs[TierApp].ID(), b.sgs[TierMercure].ID()
	n := b.name
	rules := []error{
		ingress(b.ctx, n+"-alb-http", alb, tcpRule{port: 80, cidr: anywhere, description: "HTTP from the internet (redirected to HTTPS when HTTPS is on)"}, b.n),
		ingress(b.ctx, n+"-alb-https", alb, tcpRule{port: 443, cidr: anywhere, description: "HTTPS from the internet"}, b.n),
		allowTCP(b.ctx, n+"-alb-to-app", alb, app, PhpPort, "load balancer to app tasks", b.n),
		allowTCP(b.ctx, n+"-alb-to-mercure", alb, hub, MercurePort, "load balancer to the Mercure hub", b.n),
		allowTCP(b.ctx, n+"-app-to-mercure", app, hub, MercurePort, "app publishes updates to the Mercure hub", b.n),
		egress(b.ctx, n+"-app-https", app, tcpRule{port: 443, cidr: anywhere, description: "app to AWS APIs (ECR, Secrets Manager, logs, ECS Exec) and HTTPS services"}, b.n),
		egress(b.ctx, n+"-mercure-https", hub, tcpRule{port: 443, cidr: anywhere, description: "hub to AWS APIs (ECR, Secrets Manager, logs, ECS Exec)"}, b.n),
	}
	for _, err := range rules {
		if err != nil {
			return err
		}
	}
	return nil
}

// tcpRule is one security-group rule for one TCP port, to or from a CIDR block or another
// security group (peer).
type tcpRule struct {
	port        int
	cidr        string
	peer        pulumi.StringInput
	description string
}

func ingress(ctx *pulumi.Context, name string, sg pulumi.StringInput, r tcpRule, parent pulumi.Resource) error {
	args := &vpc.SecurityGroupIngressRuleArgs{
		SecurityGroupId: sg,
		IpProtocol:      pulumi.String("tcp"),
		FromPort:        pulumi.Int(r.port),
		ToPort:          pulumi.Int(r.port),
		Description:     pulumi.String(r.description),
	}
	if r.peer != nil {
		args.ReferencedSecurityGroupId = r.peer
	} else {
		args.CidrIpv4 = pulumi.String(r.cidr)
	}
	_, err := vpc.NewSecurityGroupIngressRule(ctx, name, args, pulumi.Parent(parent))
	return err
}

func egress(ctx *pulumi.Context, name string, sg pulumi.StringInput, r tcpRule, parent pulumi.Resource) error {
	args := &vpc.SecurityGroupEgressRuleArgs{
		SecurityGroupId: sg,
		IpProtocol:      pulumi.String("tcp"),
		FromPort:        pulumi.Int(r.port),
		ToPort:          pulumi.Int(r.port),
		Description:     pulumi.String(r.description),
	}
	if r.peer != nil {
		args.ReferencedSecurityGroupId = r.peer
	} else {
		args.CidrIpv4 = pulumi.String(r.cidr)
	}
	_, err := vpc.NewSecurityGroupEgressRule(ctx, name, args, pulumi.Parent(parent))
	return err
}

// allowTCP opens a TCP port from one security group to another: an egress rule on from and
// an ingress rule on to, both described.
func allowTCP(ctx *pulumi.Context, name string, from, to pulumi.StringInput, port int, description string, parent pulumi.Resource) error {
	if err := egress(ctx, name+"-out", from, tcpRule{port: port, peer: to, description: description}, parent); err != nil {
		return err
	}
	return ingress(ctx, name+"-in", to, tcpRule{port: port, peer: from, description: description}, parent)
}

// awsNetwork is the VPC side of a Network.
type awsNetwork struct {
	// Vpc and FlowLogs are the VPC and its flow log group (AWS only).
	Vpc      *ec2.Vpc
	FlowLogs *cloudwatch.LogGroup
}
