package components

import (
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// CachePort is the Redis port on both targets.
const CachePort = 6379

// Cache is the app's Redis: a Redis 7 container locally, an ElastiCache replication group
// on AWS. Both require a password (AUTH); only AWS also encrypts traffic (rediss://).
type Cache struct {
	pulumi.ResourceState

	// Host is the primary endpoint's host name.
	Host pulumi.StringOutput `pulumi:"host"`
	// Port is the Redis port, 6379.
	Port pulumi.IntOutput `pulumi:"port"`
	// Password is the AUTH password (secret).
	Password pulumi.StringOutput `pulumi:"password"`
	// URL is the app's REDIS_URL, with the password in it (secret).
	URL pulumi.StringOutput `pulumi:"url"`

	// URLSecret is REDIS_URL as a consumer's target takes it.
	URLSecret Secret

	// Image, Container and Volume are the Redis container and its snapshots (Docker only).
	Image     *docker.Image
	Container *docker.Container
	Volume    *docker.Volume
	// awsCache holds the AWS side's child resources (cache_aws.go): ReplicationGroup and
	// Credentials.
	awsCache
}

func (c *Cache) registerOutputs(ctx *pulumi.Context) error {
	return ctx.RegisterResourceOutputs(c, pulumi.Map{
		"host":     c.Host,
		"port":     c.Port,
		"password": c.Password,
		"url":      c.URL,
	})
}

// redisURL is REDIS_URL; scheme is "redis" or, with TLS, "rediss".
func redisURL(scheme string, password, host pulumi.StringInput) pulumi.StringOutput {
	url := pulumi.Sprintf("%s://default:%s@%s:%d", scheme, password, host, CachePort)
	return pulumi.ToSecret(url).(pulumi.StringOutput)
}
