package components

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DockerLoadBalancerArgs configures the local reverse proxy.
type DockerLoadBalancerArgs struct {
	// Runtime is the network and settings every local container shares; required.
	Runtime DockerRuntime
	// BuildContext is the proxy image's build context; default "docker/proxy".
	BuildContext string
	// HostPort is the one published host port; default 8080.
	HostPort int
	// MemoryMb is the container's memory limit in MiB; default 64.
	MemoryMb int
	// App and Mercure are the upstreams; required. The proxy starts after both are healthy.
	App     *PhpService
	Mercure *MercureHub
}

func (a DockerLoadBalancerArgs) withDefaults() DockerLoadBalancerArgs {
	a.Runtime = a.Runtime.withDefaults()
	if a.BuildContext == "" {
		a.BuildContext = "docker/proxy"
	}
	if a.HostPort == 0 {
		a.HostPort = 8080
	}
	if a.MemoryMb == 0 {
		a.MemoryMb = 64
	}
	return a
}

func (a DockerLoadBalancerArgs) validate() error {
	if err := a.Runtime.validate("loadbalancer"); err != nil {
		return err
	}
	if a.HostPort < 1 || a.HostPort > 65535 {
		return fieldError("loadbalancer", "HostPort", "a port from 1 to 65535", a.HostPort)
	}
	if a.MemoryMb < 16 {
		return fieldError("loadbalancer", "MemoryMb", "at least 16", a.MemoryMb)
	}
	if a.App == nil || a.Mercure == nil {
		return fieldError("loadbalancer", "App and Mercure", "set", "nil")
	}
	return nil
}

// proxyPort is where Nginx listens inside the proxy container (unprivileged).
const proxyPort = 8080

var proxyHealth = healthCheck{
	command:     fmt.Sprintf("wget -q -O /dev/null http://127.0.0.1:%d/healthz", proxyPort),
	interval:    10,
	timeout:     5,
	retries:     3,
	startPeriod: 5,
}

// localHost is the host name a local stack serves on: "localhost" unless ports bind to
// one particular address.
func localHost(hostIP string) string {
	switch hostIP {
	case "", "127.0.0.1", "0.0.0.0", "::", "::1":
		return "localhost"
	}
	return hostIP
}

// LocalURL is the URL a local stack serves on.
func LocalURL(hostIP string, port int) string {
	return fmt.Sprintf("http://%s:%d", localHost(hostIP), port)
}

// NewDockerLoadBalancer runs an Nginx reverse proxy, built from docker/proxy, on one host port.
func NewDockerLoadBalancer(ctx *pulumi.Context, name string, args *DockerLoadBalancerArgs, opts ...pulumi.ResourceOption) (*LoadBalancer, error) {
	a := args.withDefaults()
	if err := a.validate(); err != nil {
		return nil, err
	}
	l := &LoadBalancer{}
	if err := ctx.RegisterComponentResource(typePrefix+"LoadBalancer", name, l, opts...); err != nil {
		return nil, err
	}
	var err error
	if l.Image, err = newLocalImage(ctx, name, imageBuild{context: a.BuildContext}, l); err != nil {
		return nil, fmt.Errorf("loadbalancer: %w", err)
	}
	// Container names resolve on the stack's network; they carry the dependency on the
	// upstream containers, so the proxy starts after them.
	appUpstream := pulumi.Sprintf("%s:%d", a.App.ServiceName, PhpPort)
	mercureUpstream := pulumi.Sprintf("%s:%d", a.Mercure.ServiceName, MercurePort)
	l.Container, err = newContainer(ctx, name, a.Runtime, containerSpec{
		image:    l.Image.RepoDigest,
		memoryMb: a.MemoryMb,
		env: pulumi.StringArray{
			pulumi.Sprintf("APP_UPSTREAM=%s", appUpstream),
			pulumi.Sprintf("MERCURE_UPSTREAM=%s", mercureUpstream),
		},
		ports:  map[int]int{proxyPort: a.HostPort},
		health: proxyHealth,
		// The image writes its pid and temp files to /tmp, and its entrypoint renders the
		// server's config into conf.d, as its user (101).
		readOnly: true,
		tmpfs: map[string]string{
			"/tmp":              "rw,noexec,nosuid,size=16m,mode=1777",
			"/etc/nginx/conf.d": "rw,noexec,nosuid,size=1m,uid=101,gid=101,mode=0755",
		},
	}, pulumi.Parent(l))
	if err != nil {
		return nil, fmt.Errorf("loadbalancer: %w", err)
	}
	l.URL = after(l.Container, pulumi.String(LocalURL(a.Runtime.HostIP, a.HostPort)).ToStringOutput())
	l.MercurePublicURL = pulumi.Sprintf("%s%s", l.URL, MercurePath)
	l.DNSName = after(l.Container, pulumi.String(localHost(a.Runtime.HostIP)).ToStringOutput())
	l.Targets = pulumi.StringMap{"app": appUpstream, "mercure": mercureUpstream}.ToStringMapOutput()
	return l, l.registerOutputs(ctx)
}
