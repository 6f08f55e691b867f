package components

import (
	"fmt"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// DockerDatabaseArgs configures the local MySQL container.
type DockerDatabaseArgs struct {
	// Runtime is the network and settings every local container shares; required.
	Runtime DockerRuntime
	// BuildContext is the image's build context; default "docker/db".
	BuildContext string
	// MemoryMb is the container's memory limit in MiB; default 1024, at least 512 (my.cnf
	// gives InnoDB's buffer pool 256).
	MemoryMb int
	// HostPort publishes MySQL on this host port; default 0, not published.
	HostPort int
	// DeleteVolumeOnDestroy lets `pulumi destroy` delete the data volume; default false.
	DeleteVolumeOnDestroy bool
}

func (a DockerDatabaseArgs) withDefaults() DockerDatabaseArgs {
	a.Runtime = a.Runtime.withDefaults()
	if a.BuildContext == "" {
		a.BuildContext = "docker/db"
	}
	if a.MemoryMb == 0 {
		a.MemoryMb = 1024
	}
	return a
}

func (a DockerDatabaseArgs) validate() error {
	if err := a.Runtime.validate("database"); err != nil {
		return err
	}
	if a.MemoryMb < 512 {
		return fieldError("database", "MemoryMb", "at least 512", a.MemoryMb)
	}
	if a.HostPort < 0 || a.HostPort > 65535 {
		return fieldError("database", "HostPort", "0 (not published) or a port from 1 to 65535", a.HostPort)
	}
	return nil
}

// mysqlHealth passes once the real server accepts TCP connections; the entrypoint's
// temporary server that runs init-db.sql listens on no port, so it never counts.
var mysqlHealth = healthCheck{
	command:     "mysqladmin ping -h 127.0.0.1 --silent",
	interval:    10,
	timeout:     5,
	retries:     5,
	startPeriod: 60,
}

// NewDockerDatabase runs MySQL 8.4 (LTS), built from docker/db, with its data on a named volume.
// Both passwords are generated; the container reads them from files (MYSQL_*_FILE), so they
// appear in neither `docker inspect` nor the image.
func NewDockerDatabase(ctx *pulumi.Context, name string, args *DockerDatabaseArgs, opts ...pulumi.ResourceOption) (*Database, error) {
	a := args.withDefaults()
	if err := a.validate(); err != nil {
		return nil, err
	}
	d := &Database{}
	if err := ctx.RegisterComponentResource(typePrefix+"Database", name, d, opts...); err != nil {
		return nil, err
	}
	password, err := newPassword(ctx, name+"-password", 32, d)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	rootPassword, err := newPassword(ctx, name+"-root-password", 32, d)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if d.Volume, err = newVolume(ctx, name, a.DeleteVolumeOnDestroy, d); err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if d.Image, err = newLocalImage(ctx, name, imageBuild{context: a.BuildContext}, d); err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	d.Container, err = newContainer(ctx, name, a.Runtime, containerSpec{
		image:    d.Image.RepoDigest,
		memoryMb: a.MemoryMb,
		env: pulumi.StringArray{
			pulumi.String("MYSQL_DATABASE=" + DatabaseName),
			pulumi.String("MYSQL_USER=" + DatabaseUser),
			pulumi.String("MYSQL_PASSWORD_FILE=/run/secrets/mysql-password"),
			pulumi.String("MYSQL_ROOT_PASSWORD_FILE=/run/secrets/mysql-root-password"),
		},
		uploads: docker.ContainerUploadArray{
			secretFile("/run/secrets/mysql-password", password),
			secretFile("/run/secrets/mysql-root-password", rootPassword),
		},
		volumes: docker.ContainerVolumeArray{
			docker.ContainerVolumeArgs{VolumeName: d.Volume.Name, ContainerPath: pulumi.String("/var/lib/mysql")},
		},
		ports:        map[int]int{DatabasePort: a.HostPort},
		health:       mysqlHealth,
		capabilities: rootCapabilities,
	}, pulumi.Parent(d))
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}

	d.Host = pulumi.String(name).ToStringOutput()
	d.ReaderHost = d.Host
	d.Port = pulumi.Int(DatabasePort).ToIntOutput()
	d.Name = pulumi.String(DatabaseName).ToStringOutput()
	d.User = pulumi.String(DatabaseUser).ToStringOutput()
	d.Password = password
	// DATABASE_URL resolves once the container is healthy, so its consumers start after it.
	d.URL = databaseURL(DatabaseUser, password, after(d.Container, d.Host), "8.4.0")
	d.URLSecret = localSecret(d.URL)
	d.MigratorURLSecret = d.URLSecret
	return d, d.registerOutputs(ctx)
}

// secretFile writes a secret into a container before it starts, readable by the
// container's own service user.
func secretFile(path string, value pulumi.StringInput) docker.ContainerUploadArgs {
	return docker.ContainerUploadArgs{
		File:        pulumi.String(path),
		Content:     pulumi.ToSecret(value).(pulumi.StringOutput),
		Permissions: pulumi.String("0444"),
	}
}
