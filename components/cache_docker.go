package components

import (
	"fmt"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DockerCacheArgs configures the local Redis container.
type DockerCacheArgs struct {
	// Runtime is the network and settings every local container shares; required.
	Runtime DockerRuntime
	// BuildContext is the image's build context; default "docker/cache".
	BuildContext string
	// MemoryMb is the container's memory limit in MiB; default 256.
	MemoryMb int
	// MaxMemoryMb is Redis's maxmemory in MiB; default 128, below MemoryMb.
	MaxMemoryMb int
	// HostPort publishes Redis on this host port; default 0, not published.
	HostPort int
	// DeleteVolumeOnDestroy lets `pulumi destroy` delete the snapshot volume; default false.
	DeleteVolumeOnDestroy bool
}

func (a DockerCacheArgs) withDefaults() DockerCacheArgs {
	a.Runtime = a.Runtime.withDefaults()
	if a.BuildContext == "" {
		a.BuildContext = "docker/cache"
	}
	if a.MemoryMb == 0 {
		a.MemoryMb = 256
	}
	if a.MaxMemoryMb == 0 {
		a.MaxMemoryMb = 128
	}
	return a
}

func (a DockerCacheArgs) validate() error {
	if err := a.Runtime.validate("cache"); err != nil {
		return err
	}
	if a.MaxMemoryMb < 1 {
		return fieldError("cache", "MaxMemoryMb", "at least 1", a.MaxMemoryMb)
	}
	if a.MemoryMb <= a.MaxMemoryMb {
		return fieldError("cache", "MemoryMb", fmt.Sprintf("above MaxMemoryMb (%d), for Redis's own overhead", a.MaxMemoryMb), a.MemoryMb)
	}
	if a.HostPort < 0 || a.HostPort > 65535 {
		return fieldError("cache", "HostPort", "0 (not published) or a port from 1 to 65535", a.HostPort)
	}
	return nil
}

const redisAuthFile = "/usr/local/etc/redis/auth.conf"

// redisHealth passes the password in REDISCLI_AUTH, not on redis-cli's command line, where
// any process in the container could read it (ps).
var redisHealth = healthCheck{
	command:     `REDISCLI_AUTH="$(sed -n 's/^requirepass //p' ` + redisAuthFile + `)" redis-cli ping | grep -q PONG`,
	interval:    10,
	timeout:     5,
	retries:     5,
	startPeriod: 10,
}

// NewDockerCache runs Redis 7 (alpine), built from docker/cache. RDB snapshots go to a named
// volume; the generated password reaches Redis as a config file, not a command-line flag.
func NewDockerCache(ctx *pulumi.Context, name string, args *DockerCacheArgs, opts ...pulumi.ResourceOption) (*Cache, error) {
	a := args.withDefaults()
	if err := a.validate(); err != nil {
		return nil, err
	}
	c := &Cache{}
	if err := ctx.RegisterComponentResource(typePrefix+"Cache", name, c, opts...); err != nil {
		return nil, err
	}
	password, err := newPassword(ctx, name+"-password", 32, c)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if c.Volume, err = newVolume(ctx, name, a.DeleteVolumeOnDestroy, c); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if c.Image, err = newLocalImage(ctx, name, imageBuild{context: a.BuildContext}, c); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	c.Container, err = newContainer(ctx, name, a.Runtime, containerSpec{
		image:    c.Image.RepoDigest,
		memoryMb: a.MemoryMb,
		command: []string{"redis-server", "/usr/local/etc/redis/redis.conf",
			"--maxmemory", fmt.Sprintf("%dmb", a.MaxMemoryMb)},
		uploads: docker.ContainerUploadArray{
			secretFile(redisAuthFile, pulumi.Sprintf("requirepass %s\n", password)),
		},
		volumes: docker.ContainerVolumeArray{
			docker.ContainerVolumeArgs{VolumeName: c.Volume.Name, ContainerPath: pulumi.String("/data")},
		},
		ports:        map[int]int{CachePort: a.HostPort},
		health:       redisHealth,
		capabilities: rootCapabilities,
	}, pulumi.Parent(c))
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}

	c.Host = pulumi.String(name).ToStringOutput()
	c.Port = pulumi.Int(CachePort).ToIntOutput()
	c.Password = password
	c.URL = redisURL("redis", password, after(c.Container, c.Host))
	c.URLSecret = localSecret(c.URL)
	return c, c.registerOutputs(ctx)
}
