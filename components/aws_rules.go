package components

// What AWS accepts, as the program checks it: pure rules, with no AWS SDK, so that config
// validation checks every key on every target (a build for local stacks only has them too).

import (
	"fmt"
	"regexp"
	"slices"
)

// DefaultAuroraVersion is the newest patch of Aurora MySQL 3.10 that AWS's release notes list
// (2026-03-30). 3.10 is a long-term support release: AWS keeps an LTS minor version for at
// least three years (or to the end of standard support of Aurora MySQL 3), where a minor
// version such as 3.08 gets about twelve months, after which AWS no longer creates clusters
// with it ("Long-term support (LTS) and beta releases for Amazon Aurora MySQL").
const DefaultAuroraVersion = "8.0.mysql_aurora.3.10.4"

// ServerlessClass is the instance class of Aurora Serverless v2.
const ServerlessClass = "db.serverless"

// auroraMinor is the Aurora MySQL 3 minor version of an engine version such as
// 8.0.mysql_aurora.3.08.2 (8), or -1.
func auroraMinor(version string) int {
	var minor, patch int
	if _, err := fmt.Sscanf(version, "8.0.mysql_aurora.3.%d.%d", &minor, &patch); err != nil {
		return -1
	}
	return minor
}

// ValidAcu reports whether acu is a Serverless v2 capacity: 0 to 256 in steps of 0.5.
func ValidAcu(acu float64) bool {
	return acu >= 0 && acu <= 256 && acu*2 == float64(int(acu*2))
}

// AcuCanPause reports whether an engine version lets a Serverless v2 cluster scale to 0 ACU
// and pause: Aurora MySQL 3.08.0 and later (Aurora user guide, "Scaling to zero ACUs with
// automatic pause and resume").
func AcuCanPause(version string) bool { return auroraMinor(version) >= 8 }

// redisVersions are the ElastiCache Redis OSS versions the program accepts: 6.x (AWS's alias
// for the newest 6), 6.0, 6.2, and 7.0 or later 7s.
var redisVersions = regexp.MustCompile(`^(6)\.(x|0|2)$|^(7)\.[0-9]+$`)

// RedisParameterGroupFamily is the parameter group family of a Redis version: AWS names the
// default groups default.redis6.x and default.redis7 (ElastiCache User Guide, "Redis OSS
// specific parameters"), so 6.x versions share the family redis6.x; "" when version is not one
// ElastiCache offers.
func RedisParameterGroupFamily(version string) string {
	m := redisVersions.FindStringSubmatch(version)
	switch {
	case m == nil:
		return ""
	case m[1] == "6":
		return "redis6.x"
	default:
		return "redis7"
	}
}

// fargateSizes lists the memory sizes (MiB) Fargate allows for each CPU size.
var fargateSizes = map[int][]int{
	256:   {512, 1024, 2048},
	512:   steps(1024, 4096, 1024),
	1024:  steps(2048, 8192, 1024),
	2048:  steps(4096, 16384, 1024),
	4096:  steps(8192, 30720, 1024),
	8192:  steps(16384, 61440, 4096),
	16384: steps(32768, 122880, 8192),
}

func steps(from, to, by int) []int {
	var out []int
	for v := from; v <= to; v += by {
		out = append(out, v)
	}
	return out
}

// ValidFargateSize reports whether Fargate runs a task with cpu units and memory MiB.
func ValidFargateSize(cpu, memory int) bool {
	return slices.Contains(fargateSizes[cpu], memory)
}

// ecrImage is an image in a private ECR repository, by digest:
// ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:DIGEST.
var ecrImage = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([a-z0-9]+(?:[._/-][a-z0-9]+)*)@sha256:[0-9a-f]{64}$`)

// ValidImageRef reports whether ref names an ECR image by digest.
func ValidImageRef(ref string) bool { return ecrImage.MatchString(ref) }
