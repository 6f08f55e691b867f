package components

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const (
	// MercurePort is the port the hub listens on inside its container.
	MercurePort = 3000
	// MercurePath is the hub's well-known path, on the hub and behind the load balancer.
	MercurePath = "/.well-known/mercure"
)

// MercureHub is the Mercure hub (Caddy with the Mercure module, Bolt transport): a container
// locally, a single-task ECS service on AWS.
type MercureHub struct {
	pulumi.ResourceState

	// InternalURL is where the app publishes updates, inside the network.
	InternalURL pulumi.StringOutput `pulumi:"internalUrl"`
	// PublisherJWTKey signs the app's publish tokens (secret).
	PublisherJWTKey pulumi.StringOutput `pulumi:"publisherJwtKey"`
	// SubscriberJWTKey signs subscribers' tokens (secret).
	SubscriberJWTKey pulumi.StringOutput `pulumi:"subscriberJwtKey"`
	// ServiceName is the container's name, or the ECS service's name.
	ServiceName pulumi.StringOutput `pulumi:"serviceName"`
	// ImageRef is the image the hub runs, by digest (local: image ID).
	ImageRef pulumi.StringOutput `pulumi:"imageRef"`

	// PublisherKey and SubscriberKey are the JWT keys as a consumer's target takes them.
	PublisherKey  Secret
	SubscriberKey Secret

	// Image, Container and Volume are the hub's container and Bolt database (Docker only).
	Image     *docker.Image
	Container *docker.Container
	Volume    *docker.Volume
	// awsMercureHub holds the AWS side's child resources (mercure_aws.go): Repository,
	// TaskDefinition, Service, LogGroup and Keys.
	awsMercureHub
}

func (m *MercureHub) registerOutputs(ctx *pulumi.Context) error {
	return ctx.RegisterResourceOutputs(m, pulumi.Map{
		"internalUrl":      m.InternalURL,
		"publisherJwtKey":  m.PublisherJWTKey,
		"subscriberJwtKey": m.SubscriberJWTKey,
		"serviceName":      m.ServiceName,
		"imageRef":         m.ImageRef,
	})
}

// mercureHealth asks Caddy's /healthz route, which answers 200 once the hub serves.
var mercureHealth = healthCheck{
	command:     fmt.Sprintf("wget -q -O /dev/null http://127.0.0.1:%d/healthz", MercurePort),
	interval:    10,
	timeout:     5,
	retries:     3,
	startPeriod: 10,
}

// newMercureKeys generates the publisher and subscriber JWT keys (HS256 wants 256 bits or
// more; 64 characters of 62 symbols are about 380).
func newMercureKeys(ctx *pulumi.Context, name string, parent pulumi.Resource) (publisher, subscriber pulumi.StringOutput, err error) {
	if publisher, err = newPassword(ctx, name+"-publisher-jwt-key", 64, parent); err != nil {
		return publisher, subscriber, err
	}
	subscriber, err = newPassword(ctx, name+"-subscriber-jwt-key", 64, parent)
	return publisher, subscriber, err
}

// ValidOrigin accepts an origin as browsers send it: scheme://host[:port], nothing more.
func ValidOrigin(origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		(u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

func validateOrigins(component string, origins []string) error {
	if len(origins) == 0 {
		return fieldError(component, "CorsOrigins", "at least one origin", "none")
	}
	for _, o := range origins {
		if !ValidOrigin(o) {
			return fieldError(component, "CorsOrigins", "origins like https://example.com or http://localhost:8080", o)
		}
	}
	return nil
}

func corsOriginsValue(origins []string) string {
	trimmed := make([]string, len(origins))
	for i, o := range origins {
		trimmed[i] = strings.TrimSuffix(o, "/")
	}
	return strings.Join(trimmed, " ")
}
