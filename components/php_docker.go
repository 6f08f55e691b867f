package components

import (
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DockerPhpServiceArgs configures the local app container.
type DockerPhpServiceArgs struct {
	// Runtime is the network and settings every local container shares; required.
	Runtime DockerRuntime
	// AppPath is the app's source, the image's build context; required.
	AppPath string
	// Dockerfile is the app image's Dockerfile; default "docker/php/Dockerfile".
	Dockerfile string
	// Target is the Dockerfile stage: "development" (default, with Xdebug) or "production".
	Target string
	// PhpVersion is the image's PHP version, one of PhpVersions; default "8.2".
	PhpVersion string
	// XdebugMode is XDEBUG_MODE in the development image; default "off".
	XdebugMode string
	// MountSource bind-mounts AppPath over the image's copy, for live edits; default false.
	MountSource bool
	// MemoryMb is the container's memory limit in MiB; default 512.
	MemoryMb int
	// Env is what the app is told about its services; required.
	Env PhpEnv
}

func (a DockerPhpServiceArgs) withDefaults() DockerPhpServiceArgs {
	a.Runtime = a.Runtime.withDefaults()
	if a.Dockerfile == "" {
		a.Dockerfile = "docker/php/Dockerfile"
	}
	if a.Target == "" {
		a.Target = "development"
	}
	if a.PhpVersion == "" {
		a.PhpVersion = PhpVersions[0]
	}
	if a.XdebugMode == "" {
		a.XdebugMode = "off"
	}
	if a.MemoryMb == 0 {
		a.MemoryMb = 512
	}
	return a
}

// xdebugModes is "off", or a comma-separated list of Xdebug 3's modes.
var xdebugModes = regexp.MustCompile(`^(off|(develop|coverage|debug|gcstats|profile|trace)(,(develop|coverage|debug|gcstats|profile|trace))*)$`)

// ValidXdebugMode reports whether mode is a value XDEBUG_MODE accepts.
func ValidXdebugMode(mode string) bool { return xdebugModes.MatchString(mode) }

func (a DockerPhpServiceArgs) validate() error {
	if err := a.Runtime.validate("php"); err != nil {
		return err
	}
	if err := validateAppPath("php", a.AppPath); err != nil {
		return err
	}
	if err := validatePhpVersion("php", a.PhpVersion); err != nil {
		return err
	}
	if a.Target != "development" && a.Target != "production" {
		return fieldError("php", "Target", "development or production", fmt.Sprintf("%q", a.Target))
	}
	if !ValidXdebugMode(a.XdebugMode) {
		return fieldError("php", "XdebugMode", "off or a comma-separated list of develop, coverage, debug, gcstats, profile, trace", fmt.Sprintf("%q", a.XdebugMode))
	}
	if a.Target == "production" && a.XdebugMode != "off" {
		return fieldError("php", "XdebugMode", "off for the production target, which has no Xdebug", fmt.Sprintf("%q", a.XdebugMode))
	}
	if a.MemoryMb < 64 {
		return fieldError("php", "MemoryMb", "at least 64", a.MemoryMb)
	}
	return a.Env.validate("php")
}

// NewDockerPhpService builds docker/php with the app as its context and runs it.
func NewDockerPhpService(ctx *pulumi.Context, name string, args *DockerPhpServiceArgs, opts ...pulumi.ResourceOption) (*PhpService, error) {
	a := args.withDefaults()
	if err := a.validate(); err != nil {
		return nil, err
	}
	p := &PhpService{}
	if err := ctx.RegisterComponentResource(typePrefix+"PhpService", name, p, opts...); err != nil {
		return nil, err
	}
	appSecret, err := newPassword(ctx, name+"-kernel-secret", 32, p)
	if err != nil {
		return nil, fmt.Errorf("php: %w", err)
	}
	p.Image, err = newLocalImage(ctx, name, phpBuild(a.AppPath, a.Dockerfile, a.Target, a.PhpVersion), p)
	if err != nil {
		return nil, fmt.Errorf("php: %w", err)
	}

	env := pulumi.StringArray{}
	plain := a.Env.plain()
	// The release step runs in the app container, before its servers start (the app's
	// user has every right on its database locally, so there are no users to create).
	plain["RELEASE_COMMAND"] = pulumi.String(a.Env.ReleaseCommand)
	plain["RELEASE_ON_START"] = pulumi.String("1")
	for _, k := range sortedKeys(plain) {
		env = append(env, pulumi.Sprintf("%s=%s", k, plain[k]))
	}
	values := map[string]pulumi.StringOutput{}
	for name, secret := range a.Env.secrets(localSecret(appSecret)) {
		values[name] = secret.Value
	}
	secretEnv, uploads := secretFiles(values)
	spec := containerSpec{
		image:    p.Image.RepoDigest,
		memoryMb: a.MemoryMb,
		env:      append(env, secretEnv...),
		uploads:  uploads,
		health:   phpHealth,
	}
	if a.Target == "development" {
		spec.env = append(spec.env, pulumi.String("XDEBUG_MODE="+a.XdebugMode))
		// Xdebug connects back to the IDE on the host, on Linux as on Docker Desktop.
		spec.hosts = docker.ContainerHostArray{
			docker.ContainerHostArgs{Host: pulumi.String("host.docker.internal"), Ip: pulumi.String("host-gateway")},
		}
	}
	if a.MountSource {
		source, err := filepath.Abs(a.AppPath)
		if err != nil {
			return nil, fmt.Errorf("php: AppPath: %w", err)
		}
		spec.volumes = docker.ContainerVolumeArray{
			docker.ContainerVolumeArgs{HostPath: pulumi.String(source), ContainerPath: pulumi.String("/var/www/html")},
		}
	}
	if p.Container, err = newContainer(ctx, name, a.Runtime, spec, pulumi.Parent(p)); err != nil {
		return nil, fmt.Errorf("php: %w", err)
	}
	p.ServiceName = p.Container.Name
	p.ImageRef = p.Image.RepoDigest
	return p, p.registerOutputs(ctx)
}
