package components

import (
	"fmt"
	"path/filepath"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/sudoku/infra/internal/imagehash"
)

// imageBuild says how to build one of the stack's images.
type imageBuild struct {
	context    string            // build context directory
	dockerfile string            // Dockerfile path; "" means <context>/Dockerfile
	target     string            // multi-stage target; "" builds the last stage
	args       map[string]string // build arguments
	platform   string            // such as linux/arm64; "" builds for the engine's own
	// source, when set, is a second directory the image needs (the app's source): it is built
	// first into an image of its own, from source.Dockerfile beside dockerfile, which the
	// Dockerfile copies from as the build argument APP_SOURCE (pulumi-docker v4 takes one
	// context per build).
	source string
}

// sourceDockerfile builds an imageBuild's source directory into an image of its own.
const sourceDockerfile = "source.Dockerfile"

// withSource builds b.source into the image the build argument APP_SOURCE names, on this
// machine's engine only (never pushed), for b's platform. It returns b with APP_SOURCE and
// APP_SOURCE_HASH (a hash of the source, so that any change to it is a change to b's inputs,
// and rebuilds b) and the option that orders b's build after it. The source image keeps one
// tag, so an earlier build of it is left untagged (docker image prune takes it).
func (b imageBuild) withSource(ctx *pulumi.Context, name string, parent pulumi.Resource) (imageBuild, []pulumi.ResourceOption, error) {
	opts := []pulumi.ResourceOption{pulumi.Parent(parent)}
	if b.source == "" {
		return b, opts, nil
	}
	src := imageBuild{context: b.source, dockerfile: filepath.Join(filepath.Dir(b.dockerfile), sourceDockerfile), platform: b.platform}
	hash, err := src.contentTag()
	if err != nil {
		return b, nil, fmt.Errorf("%s source: %w", name, err)
	}
	ref := physicalName(ctx, name+"-source") + ":local"
	image, err := docker.NewImage(ctx, name+"-source-image", &docker.ImageArgs{
		ImageName: pulumi.String(ref),
		Build:     src.dockerArgs(),
		SkipPush:  pulumi.Bool(true),
	}, pulumi.Parent(parent))
	if err != nil {
		return b, nil, err
	}
	args := map[string]string{"APP_SOURCE": ref, "APP_SOURCE_HASH": hash}
	for k, v := range b.args {
		args[k] = v
	}
	b.args = args
	return b, append(opts, pulumi.DependsOn([]pulumi.Resource{image})), nil
}

func (b imageBuild) dockerArgs() *docker.DockerBuildArgs {
	dockerfile := b.dockerfile
	if dockerfile == "" {
		dockerfile = b.context + "/Dockerfile"
	}
	args := &docker.DockerBuildArgs{
		Context:        pulumi.String(b.context),
		Dockerfile:     pulumi.String(dockerfile),
		BuilderVersion: docker.BuilderVersionBuilderBuildKit,
	}
	if b.target != "" {
		args.Target = pulumi.String(b.target)
	}
	if b.platform != "" {
		args.Platform = pulumi.String(b.platform)
	}
	if len(b.args) > 0 {
		m := pulumi.StringMap{}
		for k, v := range b.args {
			m[k] = pulumi.String(v)
		}
		args.Args = m
	}
	return args
}

// contentTag hashes the Dockerfile, the target, the build arguments and every file of the
// context that .dockerignore does not exclude (imagehash.Build.Tag).
func (b imageBuild) contentTag() (string, error) {
	return imagehash.Build{Context: b.context, Dockerfile: b.dockerfile, Target: b.target, Platform: b.platform, Args: b.args}.Tag()
}
