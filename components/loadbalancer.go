package components

import (
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// LoadBalancer is the stack's single public entry point. It sends /.well-known/mercure to the
// hub and everything else to the app, so the app and the hub share one origin and the app
// needs no per-environment CORS settings: a reverse-proxy container locally, an Application
// Load Balancer on AWS.
type LoadBalancer struct {
	pulumi.ResourceState

	// URL is the app's public URL.
	URL pulumi.StringOutput `pulumi:"url"`
	// MercurePublicURL is the hub's URL as browsers reach it: URL + /.well-known/mercure.
	MercurePublicURL pulumi.StringOutput `pulumi:"mercurePublicUrl"`
	// DNSName is the host name the load balancer answers on ("localhost" locally).
	DNSName pulumi.StringOutput `pulumi:"dnsName"`
	// Targets says where each route goes ("app", "mercure"): host:port upstreams on Docker,
	// target group ARNs on AWS.
	Targets pulumi.StringMapOutput `pulumi:"targets"`

	// Image and Container are the reverse proxy (Docker only).
	Image     *docker.Image
	Container *docker.Container
	// awsLoadBalancer holds the AWS side's child resources (loadbalancer_aws.go): Alb, its
	// target groups, access-log bucket and web ACL.
	awsLoadBalancer
}

func (l *LoadBalancer) registerOutputs(ctx *pulumi.Context) error {
	return ctx.RegisterResourceOutputs(l, pulumi.Map{
		"url":              l.URL,
		"mercurePublicUrl": l.MercurePublicURL,
		"dnsName":          l.DNSName,
		"targets":          l.Targets,
	})
}
