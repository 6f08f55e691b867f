package components

import (
	"strings"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DockerRuntime is what every local container shares.
type DockerRuntime struct {
	// Network is the stack's Docker network; required. Containers join it under their
	// component's name, so that "db", "cache", "mercure" and "app" resolve as hosts.
	Network *Network
	// HostIP is the address that published ports bind to; default "127.0.0.1".
	HostIP string
	// WaitTimeout is how many seconds a container may take to become healthy; default 300.
	WaitTimeout int
}

func (rt DockerRuntime) withDefaults() DockerRuntime {
	if rt.HostIP == "" {
		rt.HostIP = "127.0.0.1"
	}
	if rt.WaitTimeout == 0 {
		rt.WaitTimeout = 300
	}
	return rt
}

func (rt DockerRuntime) validate(component string) error {
	if rt.Network == nil {
		return fieldError(component, "Runtime.Network", "set", "nil")
	}
	if rt.WaitTimeout < 10 {
		return fieldError(component, "Runtime.WaitTimeout", "at least 10 seconds", rt.WaitTimeout)
	}
	return nil
}

// healthCheck is a container health check in the shape both Docker and ECS take.
type healthCheck struct {
	command     string // run with /bin/sh -c; exit 0 means healthy
	interval    int    // seconds between checks
	timeout     int    // seconds one check may take
	retries     int    // failures in a row before the container is unhealthy
	startPeriod int    // seconds of grace after start, when failures don't count
}

// docker is the check as a container's healthcheck. The durations are written as the
// provider reads them back from Docker (Go's time.Duration.String: "1m0s", not "60s";
// terraform-provider-docker v3.9.0, resourceDockerContainerRead), so that a preview after
// `pulumi up` finds nothing to change.
func (h healthCheck) docker() *docker.ContainerHealthcheckArgs {
	seconds := func(n int) pulumi.String { return pulumi.String((time.Duration(n) * time.Second).String()) }
	return &docker.ContainerHealthcheckArgs{
		Tests:       pulumi.StringArray{pulumi.String("CMD-SHELL"), pulumi.String(h.command)},
		Interval:    seconds(h.interval),
		Timeout:     seconds(h.timeout),
		Retries:     pulumi.Int(h.retries),
		StartPeriod: seconds(h.startPeriod),
	}
}

// containerSpec is what differs between the stack's containers; newContainer adds the rest.
type containerSpec struct {
	image    pulumi.StringInput
	memoryMb int
	env      pulumi.StringArray // "KEY=value" entries; secret values stay secret
	command  []string
	health   healthCheck
	volumes  docker.ContainerVolumeArray
	uploads  docker.ContainerUploadArray
	ports    map[int]int // container port -> host port; a host port of 0 is not published
	hosts    docker.ContainerHostArray
	// capabilities are the only Linux capabilities the container keeps; none by default.
	capabilities []string
	// readOnly mounts the root filesystem read-only, with tmpfs (path -> mount options) for
	// what the image writes. Docker refuses uploads into a read-only root filesystem
	// ("container rootfs is marked read-only", moby/moby#43015), so a container that
	// receives secret files cannot have one.
	readOnly bool
	tmpfs    map[string]string
}

// rootCapabilities are what an official database image's entrypoint needs: it starts as
// root, gives the data directory to the service user and switches to it (gosu, su-exec).
var rootCapabilities = []string{"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"}

// newContainer runs one of the stack's containers the way docker compose would: on the
// stack's network under the component's name, restarted unless stopped, with a memory
// limit, rotated logs and a health check that `pulumi up` waits for. It is hardened as
// Docker's security benchmark asks: no privilege gain (no-new-privileges), every
// capability dropped but those the image needs, and a read-only root filesystem where the
// image allows one. (pulumi-docker v4's Container has no pids limit to set.)
func newContainer(ctx *pulumi.Context, name string, rt DockerRuntime, spec containerSpec, opts ...pulumi.ResourceOption) (*docker.Container, error) {
	var ports docker.ContainerPortArray
	for internal, external := range spec.ports {
		if external == 0 {
			continue
		}
		ports = append(ports, docker.ContainerPortArgs{
			Internal: pulumi.Int(internal),
			External: pulumi.Int(external),
			Ip:       pulumi.String(rt.HostIP),
		})
	}
	var command pulumi.StringArray
	for _, c := range spec.command {
		command = append(command, pulumi.String(c))
	}
	tmpfs := pulumi.StringMap{}
	for path, options := range spec.tmpfs {
		tmpfs[path] = pulumi.String(options)
	}
	return docker.NewContainer(ctx, name+"-container", &docker.ContainerArgs{
		Name:    pulumi.String(physicalName(ctx, name)),
		Image:   spec.image,
		Command: command,
		Envs:    spec.env,
		Restart: pulumi.String("unless-stopped"),
		Memory:  pulumi.Int(spec.memoryMb),
		// What Docker sets when only a memory limit is given ("By default, MemorySwap is set
		// to twice the size of Memory": moby, daemon/daemon_unix.go, adaptContainerSettings),
		// as docker compose's mem_limit gets it. The provider reads it back, and the field is
		// optional but not computed, so left unset it would show as a change in every preview.
		MemorySwap:  pulumi.Int(2 * spec.memoryMb),
		Healthcheck: spec.health.docker(),
		Wait:        pulumi.Bool(true),
		WaitTimeout: pulumi.Int(rt.WaitTimeout),
		NetworksAdvanced: docker.ContainerNetworksAdvancedArray{
			docker.ContainerNetworksAdvancedArgs{
				Name:    rt.Network.Name,
				Aliases: pulumi.StringArray{pulumi.String(name)},
			},
		},
		Ports:        ports,
		Volumes:      spec.volumes,
		Uploads:      spec.uploads,
		Hosts:        spec.hosts,
		LogDriver:    pulumi.String("json-file"),
		LogOpts:      pulumi.StringMap{"max-size": pulumi.String("10m"), "max-file": pulumi.String("3")},
		Labels:       labels(ctx, name),
		SecurityOpts: pulumi.StringArray{pulumi.String("no-new-privileges:true")},
		Capabilities: docker.ContainerCapabilitiesArgs{
			Drops: pulumi.StringArray{pulumi.String("ALL")},
			Adds:  pulumi.ToStringArray(spec.capabilities),
		},
		ReadOnly: pulumi.Bool(spec.readOnly),
		Tmpfs:    tmpfs,
	}, opts...)
}

func labels(ctx *pulumi.Context, component string) docker.ContainerLabelArray {
	return docker.ContainerLabelArray{
		docker.ContainerLabelArgs{Label: pulumi.String("sudoku.stack"), Value: pulumi.String(ctx.Stack())},
		docker.ContainerLabelArgs{Label: pulumi.String("sudoku.component"), Value: pulumi.String(component)},
	}
}

// newVolume creates a named data volume. Unless deleteOnDestroy is set, the volume
// outlives `pulumi destroy` (as with `docker compose down` without -v), and a change that
// would replace it leaves the old volume and its data in place.
func newVolume(ctx *pulumi.Context, name string, deleteOnDestroy bool, parent pulumi.Resource) (*docker.Volume, error) {
	opts := []pulumi.ResourceOption{pulumi.Parent(parent)}
	if !deleteOnDestroy {
		opts = append(opts, pulumi.RetainOnDelete(true))
	}
	return docker.NewVolume(ctx, name+"-data", &docker.VolumeArgs{
		Name: pulumi.String(physicalName(ctx, name+"-data")),
		Labels: docker.VolumeLabelArray{
			docker.VolumeLabelArgs{Label: pulumi.String("sudoku.stack"), Value: pulumi.String(ctx.Stack())},
		},
	}, opts...)
}

// secretFiles delivers secrets (by variable name) to a container as files under
// /run/secrets, uploaded before it starts, named by NAME_FILE variables that the image's
// entrypoint turns into NAME: the values stay out of the container's configuration, which
// `docker inspect` shows to anyone who may use the engine.
func secretFiles(secrets map[string]pulumi.StringOutput) (pulumi.StringArray, docker.ContainerUploadArray) {
	var env pulumi.StringArray
	var uploads docker.ContainerUploadArray
	for _, name := range sortedKeys(secrets) {
		path := "/run/secrets/" + strings.ToLower(strings.ReplaceAll(name, "_", "-"))
		env = append(env, pulumi.String(name+"_FILE="+path))
		uploads = append(uploads, secretFile(path, secrets[name]))
	}
	return env, uploads
}

// newLocalImage builds an image into the local Docker engine without pushing it.
// Containers refer to it by its ID (repoDigest), so a rebuilt image replaces them.
func newLocalImage(ctx *pulumi.Context, name string, build imageBuild, parent pulumi.Resource) (*docker.Image, error) {
	build, opts, err := build.withSource(ctx, name, parent)
	if err != nil {
		return nil, err
	}
	return docker.NewImage(ctx, name+"-image", &docker.ImageArgs{
		ImageName: pulumi.String(physicalName(ctx, name) + ":local"),
		Build:     build.dockerArgs(),
		SkipPush:  pulumi.Bool(true),
	}, opts...)
}
