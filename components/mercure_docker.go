package components

import (
	"fmt"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DockerMercureHubArgs configures the local Mercure hub.
type DockerMercureHubArgs struct {
	// Runtime is the network and settings every local container shares; required.
	Runtime DockerRuntime
	// BuildContext is the image's build context; default "docker/mercure".
	BuildContext string
	// MemoryMb is the container's memory limit in MiB; default 128.
	MemoryMb int
	// CorsOrigins are the origins browsers may subscribe from; required (the caller passes
	// the stack's own origin by default).
	CorsOrigins []string
	// DeleteVolumeOnDestroy lets `pulumi destroy` delete the Bolt volume; default false.
	DeleteVolumeOnDestroy bool
}

func (a DockerMercureHubArgs) withDefaults() DockerMercureHubArgs {
	a.Runtime = a.Runtime.withDefaults()
	if a.BuildContext == "" {
		a.BuildContext = "docker/mercure"
	}
	if a.MemoryMb == 0 {
		a.MemoryMb = 128
	}
	return a
}

func (a DockerMercureHubArgs) validate() error {
	if err := a.Runtime.validate("mercure"); err != nil {
		return err
	}
	if a.MemoryMb < 32 {
		return fieldError("mercure", "MemoryMb", "at least 32", a.MemoryMb)
	}
	return validateOrigins("mercure", a.CorsOrigins)
}

// NewDockerMercureHub runs the hub built from docker/mercure, with its Bolt database on a
// named volume and generated JWT keys.
func NewDockerMercureHub(ctx *pulumi.Context, name string, args *DockerMercureHubArgs, opts ...pulumi.ResourceOption) (*MercureHub, error) {
	a := args.withDefaults()
	if err := a.validate(); err != nil {
		return nil, err
	}
	m := &MercureHub{}
	if err := ctx.RegisterComponentResource(typePrefix+"MercureHub", name, m, opts...); err != nil {
		return nil, err
	}
	publisher, subscriber, err := newMercureKeys(ctx, name, m)
	if err != nil {
		return nil, fmt.Errorf("mercure: %w", err)
	}
	if m.Volume, err = newVolume(ctx, name, a.DeleteVolumeOnDestroy, m); err != nil {
		return nil, fmt.Errorf("mercure: %w", err)
	}
	if m.Image, err = newLocalImage(ctx, name, imageBuild{context: a.BuildContext}, m); err != nil {
		return nil, fmt.Errorf("mercure: %w", err)
	}
	keyEnv, uploads := secretFiles(map[string]pulumi.StringOutput{
		"MERCURE_PUBLISHER_JWT_KEY":  publisher,
		"MERCURE_SUBSCRIBER_JWT_KEY": subscriber,
	})
	m.Container, err = newContainer(ctx, name, a.Runtime, containerSpec{
		image:    m.Image.RepoDigest,
		memoryMb: a.MemoryMb,
		env: append(pulumi.StringArray{
			pulumi.Sprintf("SERVER_NAME=:%d", MercurePort),
			pulumi.String("MERCURE_CORS_ORIGINS=" + corsOriginsValue(a.CorsOrigins)),
		}, keyEnv...),
		uploads: uploads,
		volumes: docker.ContainerVolumeArray{
			docker.ContainerVolumeArgs{VolumeName: m.Volume.Name, ContainerPath: pulumi.String("/data")},
		},
		health: mercureHealth,
	}, pulumi.Parent(m))
	if err != nil {
		return nil, fmt.Errorf("mercure: %w", err)
	}

	m.InternalURL = after(m.Container, pulumi.Sprintf("http://%s:%d%s", name, MercurePort, MercurePath))
	m.PublisherJWTKey = publisher
	m.SubscriberJWTKey = subscriber
	m.PublisherKey = localSecret(publisher)
	m.SubscriberKey = localSecret(subscriber)
	m.ServiceName = m.Container.Name
	m.ImageRef = m.Image.RepoDigest
	return m, m.registerOutputs(ctx)
}
