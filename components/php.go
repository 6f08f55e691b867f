package components

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PhpPort is the port Nginx listens on inside the app container (unprivileged).
const PhpPort = 8080

// PhpService is the Symfony app: PHP 8.2 FPM and Nginx in one image built from docker/php,
// run as a container locally and as an auto-scaled ECS service on AWS.
type PhpService struct {
	pulumi.ResourceState

	// ServiceName is the container's name, or the ECS service's name.
	ServiceName pulumi.StringOutput `pulumi:"serviceName"`
	// ImageRef is the image the service runs, by digest (local: image ID).
	ImageRef pulumi.StringOutput `pulumi:"imageRef"`

	// Image is the built image (both targets; pushed to ECR on AWS).
	Image *docker.Image
	// Container is the app container (Docker only).
	Container *docker.Container
	// awsPhpService holds the AWS side's child resources (php_aws.go): Repository,
	// TaskDefinition, Service, LogGroup and Secret (APP_SECRET).
	awsPhpService
}

func (p *PhpService) registerOutputs(ctx *pulumi.Context) error {
	return ctx.RegisterResourceOutputs(p, pulumi.Map{
		"serviceName": p.ServiceName,
		"imageRef":    p.ImageRef,
	})
}

// PhpEnv is what the app is told about its environment, on both targets.
type PhpEnv struct {
	// AppEnv is Symfony's APP_ENV: dev, test or prod; required.
	AppEnv string
	// Database, Cache and Mercure are the services the app uses; required.
	Database *Database
	Cache    *Cache
	Mercure  *MercureHub
	// MercurePublicURL is the hub's URL as browsers reach it; required.
	MercurePublicURL pulumi.StringInput
	// ReleaseCommand is what the release step runs, before the app serves, as the
	// migrator (ReleaseCommandFor picks the default); "" runs none. On AWS the release step
	// creates the database users first, whatever the command.
	ReleaseCommand string
}

// DoctrineMigrate is the release command of a Symfony app: its Doctrine migrations.
const DoctrineMigrate = "php bin/console doctrine:migrations:migrate --no-interaction --allow-no-migration"

// ReleaseCommandFor is the release command that suits the app in appPath: Doctrine's
// migrations for a Symfony app (bin/console), the stand-in app's bin/release, or none.
func ReleaseCommandFor(appPath string) string {
	for _, c := range []struct{ file, command string }{{"bin/console", DoctrineMigrate}, {"bin/release", "php bin/release"}} {
		if info, err := os.Stat(filepath.Join(appPath, c.file)); err == nil && !info.IsDir() {
			return c.command
		}
	}
	return ""
}

func (e PhpEnv) validate(component string) error {
	switch e.AppEnv {
	case "dev", "test", "prod":
	default:
		return fieldError(component, "Env.AppEnv", "dev, test or prod", fmt.Sprintf("%q", e.AppEnv))
	}
	if e.Database == nil || e.Cache == nil || e.Mercure == nil || e.MercurePublicURL == nil {
		return fieldError(component, "Env", "given a Database, Cache, Mercure hub and MercurePublicURL", "a missing one")
	}
	return nil
}

// plain is the environment that holds no secret.
func (e PhpEnv) plain() map[string]pulumi.StringInput {
	return map[string]pulumi.StringInput{
		"APP_ENV":            pulumi.String(e.AppEnv),
		"MERCURE_URL":        e.Mercure.InternalURL,
		"MERCURE_PUBLIC_URL": e.MercurePublicURL,
	}
}

// secrets is the environment that does; appSecret is Symfony's APP_SECRET.
func (e PhpEnv) secrets(appSecret Secret) map[string]Secret {
	return map[string]Secret{
		"APP_SECRET":                 appSecret,
		"DATABASE_URL":               e.Database.URLSecret,
		"REDIS_URL":                  e.Cache.URLSecret,
		"MERCURE_PUBLISHER_JWT_KEY":  e.Mercure.PublisherKey,
		"MERCURE_SUBSCRIBER_JWT_KEY": e.Mercure.SubscriberKey,
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// phpHealth asks the app's status page, through Nginx and PHP-FPM. It checks that the app
// serves, not that MySQL and Redis answer (status.php touches them only with ?deps=1 or
// ?strict=1): an outage of either must not get every app container killed and restarted,
// and an idle Aurora Serverless cluster must be able to pause.
var phpHealth = healthCheck{
	command:     fmt.Sprintf("curl -fsS -o /dev/null http://127.0.0.1:%d/status.php", PhpPort),
	interval:    15,
	timeout:     5,
	retries:     3,
	startPeriod: 30,
}

// PhpVersions are the PHP versions the app image builds on (php:<version>-fpm-bookworm, with
// the phpredis and Xdebug releases its Dockerfile pins). The first is the default: the app
// requires 8.2, whose security support ends on 31 December 2026.
var PhpVersions = []string{"8.2", "8.3", "8.4"}

// phpBuild is the app image's build: docker/php/Dockerfile's stage target, with its own
// directory as the context (the configuration files it copies), the app's source beside it
// (imageBuild.source) and the PHP version as a build argument.
func phpBuild(appPath, dockerfile, target, version string) imageBuild {
	return imageBuild{context: filepath.Dir(dockerfile), dockerfile: dockerfile, target: target, args: map[string]string{"PHP_VERSION": version}, source: appPath}
}

func validatePhpVersion(component, version string) error {
	if !slices.Contains(PhpVersions, version) {
		return fieldError(component, "PhpVersion", "one of "+strings.Join(PhpVersions, ", "), fmt.Sprintf("%q", version))
	}
	return nil
}

func validateAppPath(component, path string) error {
	info, err := os.Stat(path)
	if err != nil || !info.IsDir() {
		return fieldError(component, "AppPath", "a directory with the app's source", fmt.Sprintf("%q", path))
	}
	return nil
}
