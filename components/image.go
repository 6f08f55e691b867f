package components

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
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
// context that .dockerignore does not exclude.
func (b imageBuild) contentTag() (string, error) {
	h := sha256.New()
	dockerfile := b.dockerfile
	if dockerfile == "" {
		dockerfile = filepath.Join(b.context, "Dockerfile")
	}
	if err := hashFile(h, "Dockerfile", dockerfile); err != nil {
		return "", err
	}
	fmt.Fprintf(h, "target=%s\n", b.target)
	if b.platform != "linux/amd64" {
		// Images built before platforms were hashed were all linux/amd64: they keep their tags.
		fmt.Fprintf(h, "platform=%s\n", b.platform)
	}
	keys := make([]string, 0, len(b.args))
	for k := range b.args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "arg %s=%s\n", k, b.args[k])
	}
	ignore, err := readDockerignore(b.context)
	if err != nil {
		return "", err
	}
	err = filepath.WalkDir(b.context, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(b.context, path)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if d.Name() == ".git" || ignored(ignore, rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		return hashFile(h, rel, path)
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func hashFile(h io.Writer, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(h, "file %s\n", name)
	_, err = io.Copy(h, f)
	return err
}

// readDockerignore reads the context's .dockerignore patterns. A file with "!" exceptions
// counts as having no patterns at all, so that everything is hashed.
func readDockerignore(context string) ([]string, error) {
	f, err := os.Open(filepath.Join(context, ".dockerignore"))
	if os.IsNotExist(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	var patterns []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		p := strings.TrimSpace(s.Text())
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if strings.HasPrefix(p, "!") {
			return nil, nil
		}
		patterns = append(patterns, strings.Trim(filepath.ToSlash(p), "/"))
	}
	return patterns, s.Err()
}

// ignored matches a context-relative path as Docker does for simple patterns. Where it is
// unsure (** patterns, exceptions) it hashes the file: a needless rebuild is better than a
// changed image that keeps its tag.
func ignored(patterns []string, rel string) bool {
	for _, p := range patterns {
		if ok, _ := filepath.Match(p, rel); ok {
			return true
		}
	}
	return false
}
