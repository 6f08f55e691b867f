# shellcheck shell=bash
# Shared by the scripts in this folder: clear failures, and commands that cannot hang.

die() {
	echo "error: $*" >&2
	exit 1
}

# need CMD HINT: stop at once, saying what to install, when CMD is missing.
need() {
	command -v "$1" >/dev/null 2>&1 || die "$1 is not installed. $2"
}

# with_timeout SECONDS CMD...: run CMD, killing it after SECONDS (coreutils' timeout where
# there is one; a watchdog elsewhere, as on macOS).
with_timeout() {
	local secs=$1
	shift
	if command -v timeout >/dev/null 2>&1; then
		timeout "$secs" "$@"
		return
	fi
	"$@" &
	local pid=$!
	(sleep "$secs" && kill "$pid" 2>/dev/null) &
	local watchdog=$!
	local status=0
	wait "$pid" || status=$?
	kill "$watchdog" 2>/dev/null || true
	return "$status"
}

# lower WORD: WORD in lower case, as the program's resource names have a stack's name
# (components.physicalName).
lower() { tr '[:upper:]' '[:lower:]' <<<"$1"; }

need_pulumi() {
	need pulumi "Install the Pulumi CLI: https://www.pulumi.com/docs/install/ (curl -fsSL https://get.pulumi.com | sh, or brew install pulumi/tap/pulumi)."
	need go "Install Go 1.26.6 or newer (https://go.dev/dl/): Pulumi builds this program with it."
}

# The oldest Pulumi CLI the local commands run with: 3.238.0 added --skip-plugin-pre-install
# (pulumi's CHANGELOG.md), which spares a local stack the download of the AWS provider.
min_pulumi=3.238

need_pulumi_version() {
	local version
	version=$(with_timeout "${SUDOKU_PULUMI_TIMEOUT:-20}" pulumi version 2>/dev/null) || version=
	version_at_least "${version#v}" "$min_pulumi" ||
		die "the Pulumi CLI is ${version:-of a version it does not say}; this project needs Pulumi $min_pulumi or newer. Update it: https://www.pulumi.com/docs/install/ (curl -fsSL https://get.pulumi.com | sh, or brew upgrade pulumi)."
}

# The oldest Docker Engine the images build on: its own Dockerfile frontend (the Dockerfiles
# ask for no other) knows every instruction and flag they use (docs/local-development.md;
# image_test.go holds the Dockerfiles to it).
min_docker=20.10

need_docker() {
	need docker "Install Docker: https://docs.docker.com/get-docker/ (Docker Desktop, or Docker Engine on Linux)."
	local secs=${SUDOKU_DOCKER_TIMEOUT:-20} version
	with_timeout "$secs" docker info >/dev/null 2>&1 ||
		die "the Docker engine does not answer ('docker info' failed or took over $secs s). Start Docker Desktop or the docker service; check DOCKER_HOST and 'docker context ls'."
	version=$(with_timeout "$secs" docker version --format '{{.Server.Version}}' 2>/dev/null) || version=
	version_at_least "$version" "$min_docker" ||
		die "the Docker engine is ${version:-of a version it does not say}; this project needs Docker Engine $min_docker or newer. Install a newer one: https://docs.docker.com/engine/install/ (or Docker Desktop: https://docs.docker.com/get-docker/)."
}

# version_at_least VERSION MIN: VERSION (such as 20.10.24+dfsg1 or 28.2.2) is MIN (major.minor)
# or newer.
version_at_least() {
	local major minor want_major want_minor
	[[ $1 =~ ^([0-9]+)\.([0-9]+) ]] || return 1
	major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
	want_major=${2%%.*} want_minor=${2#*.}
	((10#$major > 10#$want_major || (10#$major == 10#$want_major && 10#$minor >= 10#$want_minor)))
}
