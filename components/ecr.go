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
	"regexp"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// keptImages is how many images a repository keeps; older ones expire. Running tasks use
// one of the newest, and a rollback one of the few before it.
const keptImages = 30

// DeployedTagPrefix starts the tags a staging deployment gives the images it deployed, once
// ECS runs them (deployed-<commit>, scripts/ci.sh record-deployment): production promotes
// the images so tagged for its commit. The lifecycle policy keeps them: its first rule
// matches them, and "an image that matches the tagging requirements of a rule cannot be
// expired by a rule with a lower priority" (ECR user guide, lifecycle policy evaluation
// rules). So an image production runs, or may roll back to, outlives the 30 newest builds.
const DeployedTagPrefix = "deployed-"

// keptDeployments is how many deployed images a repository keeps: a few years of deploys.
const keptDeployments = 500

// ecrImage is an image in a private ECR repository, by digest:
// ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:DIGEST.
var ecrImage = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([a-z0-9]+(?:[._/-][a-z0-9]+)*)@sha256:[0-9a-f]{64}$`)

// ValidImageRef reports whether ref names an ECR image by digest.
func ValidImageRef(ref string) bool { return ecrImage.MatchString(ref) }

// serviceImage is the image a service runs: built and pushed to a repository of the stack's,
// or, given by digest (promotion), pulled as it is from the repository it is in.
type serviceImage struct {
	repository    *ecr.Repository     // the stack's repository; nil for a given image
	image         *docker.Image       // the build; nil for a given image
	ref           pulumi.StringOutput // repository@sha256:digest
	repositoryArn pulumi.StringOutput // what the execution role may pull from
}

// newServiceImage builds build into a new repository, or, when ref is set, uses that image.
func newServiceImage(ctx *pulumi.Context, name string, rt AwsRuntime, ref string, build imageBuild, parent pulumi.Resource) (*serviceImage, error) {
	if ref != "" {
		m := ecrImage.FindStringSubmatch(ref)
		return &serviceImage{
			ref:           pulumi.String(ref).ToStringOutput(),
			repositoryArn: pulumi.Sprintf("arn:%s:ecr:%s:%s:repository/%s", rt.Account.Partition, m[2], m[1], m[3]),
		}, nil
	}
	repo, err := newRepository(ctx, name, rt, parent)
	if err != nil {
		return nil, err
	}
	build.platform = rt.platform()
	image, err := newPushedImage(ctx, name, repo, build, parent)
	if err != nil {
		return nil, err
	}
	return &serviceImage{repository: repo, image: image, ref: image.RepoDigest, repositoryArn: repo.Arn}, nil
}

// newRepository creates a private ECR repository: images scanned on push, tags immutable,
// storage encrypted with the stack's key, old images expired.
func newRepository(ctx *pulumi.Context, name string, rt AwsRuntime, parent pulumi.Resource) (*ecr.Repository, error) {
	repo, err := ecr.NewRepository(ctx, name+"-repository", &ecr.RepositoryArgs{
		Name:               pulumi.String(physicalName(ctx, name)),
		ImageTagMutability: pulumi.String("IMMUTABLE"),
		// A protected repository keeps its images; an unprotected one (a deliberate
		// teardown) may be deleted with them.
		ForceDelete: pulumi.Bool(!rt.Protect),
		ImageScanningConfiguration: ecr.RepositoryImageScanningConfigurationArgs{
			ScanOnPush: pulumi.Bool(true),
		},
		EncryptionConfigurations: ecr.RepositoryEncryptionConfigurationArray{
			ecr.RepositoryEncryptionConfigurationArgs{
				EncryptionType: pulumi.String("KMS"),
				KmsKey:         rt.KmsKeyArn,
			},
		},
	}, rt.stateful(parent)...)
	if err != nil {
		return nil, err
	}
	_, err = ecr.NewLifecyclePolicy(ctx, name+"-lifecycle", &ecr.LifecyclePolicyArgs{
		Repository: repo.Name,
		Policy: pulumi.JSONMarshal(pulumi.Map{"rules": pulumi.Array{
			pulumi.Map{
				"rulePriority": pulumi.Int(1),
				"description":  pulumi.Sprintf("Keep the images staging deployed (%s*), which production promotes, up to %d", DeployedTagPrefix, keptDeployments),
				"selection": pulumi.Map{
					"tagStatus": pulumi.String("tagged"), "tagPrefixList": pulumi.ToStringArray([]string{DeployedTagPrefix}),
					"countType": pulumi.String("imageCountMoreThan"), "countNumber": pulumi.Int(keptDeployments),
				},
				"action": pulumi.Map{"type": pulumi.String("expire")},
			},
			pulumi.Map{
				"rulePriority": pulumi.Int(2),
				"description":  pulumi.String("Expire untagged images after 7 days"),
				"selection": pulumi.Map{
					"tagStatus": pulumi.String("untagged"), "countType": pulumi.String("sinceImagePushed"),
					"countUnit": pulumi.String("days"), "countNumber": pulumi.Int(7),
				},
				"action": pulumi.Map{"type": pulumi.String("expire")},
			},
			pulumi.Map{
				"rulePriority": pulumi.Int(3),
				"description":  pulumi.Sprintf("Keep the %d newest images", keptImages),
				"selection": pulumi.Map{
					"tagStatus": pulumi.String("any"), "countType": pulumi.String("imageCountMoreThan"),
					"countNumber": pulumi.Int(keptImages),
				},
				"action": pulumi.Map{"type": pulumi.String("expire")},
			},
		}}),
	}, pulumi.Parent(parent))
	if err != nil || len(rt.EcrReaderAccounts) == 0 {
		return repo, err
	}
	// Other accounts (production's, say) may pull, and only pull.
	readers := pulumi.StringArray{}
	for _, account := range rt.EcrReaderAccounts {
		readers = append(readers, pulumi.Sprintf("arn:%s:iam::%s:root", rt.Account.Partition, account))
	}
	_, err = ecr.NewRepositoryPolicy(ctx, name+"-readers", &ecr.RepositoryPolicyArgs{
		Repository: repo.Name,
		Policy: pulumi.JSONMarshal(pulumi.Map{"Version": pulumi.String("2012-10-17"), "Statement": pulumi.Array{pulumi.Map{
			"Sid":       pulumi.String("OtherAccountsPull"),
			"Effect":    pulumi.String("Allow"),
			"Principal": pulumi.Map{"AWS": readers},
			"Action":    pulumi.ToStringArray([]string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}),
		}}}),
	}, pulumi.Parent(parent))
	return repo, err
}

// newPushedImage builds an image for Fargate (build.platform) and pushes it to repo with
// credentials from ecr.getAuthorizationToken.
//
// Its tag is a hash of what goes into the build, then a build ID: "<content>-<build>". An
// unchanged build keeps both (no diff, no build, no push). A changed one gets a new tag,
// hence a new digest, a new task definition revision and a rolling deployment. The build ID
// is what makes a revert deployable: the repository's tags are immutable, so after a revert
// the content hash alone would name an image the repository already holds, and ECR refuses
// a rebuild under it (apt, pecl and floating base tags make a rebuild differ byte for byte;
// ImageTagAlreadyExistsException). The build ID is a random.RandomId kept by the content
// hash: it stays while the hash stays, and any change, back to an earlier hash too, draws a
// new one, so every build is pushed to a tag never used before.
func newPushedImage(ctx *pulumi.Context, name string, repo *ecr.Repository, build imageBuild, parent pulumi.Resource) (*docker.Image, error) {
	build, opts, err := build.withSource(ctx, name, parent)
	if err != nil {
		return nil, err
	}
	tag, err := build.contentTag()
	if err != nil {
		return nil, fmt.Errorf("%s image: %w", name, err)
	}
	buildID, err := random.NewRandomId(ctx, name+"-build-id", &random.RandomIdArgs{
		ByteLength: pulumi.Int(4),
		Keepers:    pulumi.StringMap{"content": pulumi.String(tag)},
	}, pulumi.Parent(parent))
	if err != nil {
		return nil, fmt.Errorf("%s image: %w", name, err)
	}
	auth := ecr.GetAuthorizationTokenOutput(ctx, ecr.GetAuthorizationTokenOutputArgs{RegistryId: repo.RegistryId}, pulumi.Parent(parent))
	args := build.dockerArgs()
	return docker.NewImage(ctx, name+"-image", &docker.ImageArgs{
		ImageName: pulumi.Sprintf("%s:%s-%s", repo.RepositoryUrl, tag, buildID.Hex),
		Build:     args,
		Registry: docker.RegistryArgs{
			Server:   repo.RepositoryUrl,
			Username: auth.UserName(),
			Password: pulumi.ToSecret(auth.Password()).(pulumi.StringOutput),
		},
	}, opts...)
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
