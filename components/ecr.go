//go:build !sudoku_local

package components

import (
	"fmt"

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
