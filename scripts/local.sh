#!/usr/bin/env bash
# Runs Pulumi for a local (Docker) stack with no Pulumi Cloud account: state in a file backend
# (as `pulumi login --local` keeps it, without changing your login) and secrets encrypted with
# a passphrase generated once for you.
#
#   scripts/local.sh up|preview|down|destroy     (STACK=name for another stack; default: local)
#   scripts/local.sh pulumi ARGS...               (any pulumi command, for that stack)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

action=${1:-}
stack=${STACK:-local}
case "$action" in
up | preview | down | destroy | pulumi) ;;
*) die "usage: scripts/local.sh up|preview|down|destroy|pulumi [ARGS...]" ;;
esac

export PULUMI_SKIP_UPDATE_CHECK=true
need_pulumi
need_pulumi_version
need_docker

export PULUMI_BACKEND_URL=${SUDOKU_LOCAL_BACKEND:-file://~}
# Before it runs the program, pulumi installs the plugin of every module in go.mod's require
# list that has one (the Go language host's GetRequiredPackages; pkg/engine/update.go,
# ensurePluginsAreInstalled), pulumi-aws's too: a download of the AWS provider that a local
# stack never starts. With --skip-plugin-pre-install the engine installs a provider when the
# program first registers one of its resources: docker and random here.
lazy_plugins=--skip-plugin-pre-install
# Pulumi's Go language host builds the program with `go build` in this directory, every run
# (pulumi-language-go, compileProgram), and go build reads GOFLAGS from the environment: for a
# local stack, without the AWS side and the pulumi-aws SDK (main.go, localBuildTag), which make
# most of a cold build's time. A stack that targets aws refuses such a build, saying so.
# SUDOKU_FULL_BUILD=1 builds the whole program instead (make bench compares the two).
if [ "${SUDOKU_FULL_BUILD:-}" != 1 ]; then
	export GOFLAGS="${GOFLAGS:+$GOFLAGS }-tags=sudoku_local"
fi
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
	passphrase_file=${XDG_CONFIG_HOME:-$HOME/.config}/sudoku/pulumi-passphrase
	if [ ! -s "$passphrase_file" ]; then
		mkdir -p "$(dirname "$passphrase_file")"
		(umask 077 && head -c 32 /dev/urandom | base64 >"$passphrase_file")
		echo "Generated the passphrase that encrypts your local stacks' secrets: $passphrase_file"
	fi
	export PULUMI_CONFIG_PASSPHRASE_FILE=$passphrase_file
fi

# What `down` removes: the stack's containers, network and images, whatever component they
# belong to. Everything else stays in the stack: the data volumes and the generated
# credentials that the data was created with (MySQL takes MYSQL_PASSWORD only when its data
# directory is new), as docker compose keeps volumes and .env across `down`. These are
# `pulumi destroy --target` globs: ** matches anything, * anything but a colon.
down_targets=()
for type in docker:index/container:Container docker:index/network:Network docker:index/image:Image; do
	down_targets+=(--target "urn:pulumi:*::*::**${type}::**")
done

# The images a local stack builds, sudoku-<stack>-<name>:local (components/docker.go,
# newLocalImage, with the app's source as an image of its own; a test holds this list to the
# program's).
local_images=(db cache mercure app app-source lb)

# Selects the stack, creating it on first use. A new stack needs no Pulumi.<stack>.yaml: it
# targets Docker with Pulumi.yaml's defaults.
pulumi stack select "$stack" --create --secrets-provider passphrase --non-interactive >/dev/null

case "$action" in
pulumi)
	shift
	exec pulumi "$@"
	;;
up)
	# As docker compose up does, it applies without a separate preview first: that would run
	# (and build) the program a second time. pulumi up prints the outputs at its end.
	pulumi up --stack "$stack" --yes --non-interactive --skip-preview "$lazy_plugins"
	echo
	# Healthy containers are not yet a working app: the app must also get into MySQL and
	# Redis with its credentials, and the hub must deliver. Through the proxy, as a browser
	# would. The outputs, the hub's keys among them, go to the check on its standard input,
	# never to the terminal, the environment or a command line; one call reads them all.
	outputs=$(pulumi stack output --stack "$stack" --json --show-secrets)
	go run ./cmd/smoke -outputs - <<<"$outputs"
	;;
preview)
	pulumi preview --stack "$stack" --diff --non-interactive "$lazy_plugins"
	;;
down)
	pulumi destroy --stack "$stack" --yes --non-interactive "$lazy_plugins" "${down_targets[@]}"
	echo "Stack $stack is down. Its data volumes, credentials and images are kept for the next 'make up'; 'make destroy' deletes them."
	;;
destroy)
	# Everything, the credentials too: the volumes made with them go below.
	pulumi destroy --stack "$stack" --yes --non-interactive "$lazy_plugins"
	# The volumes outlived the destroy above (retainOnDelete) unless deleteVolumesOnDestroy
	# was set; this is where they go, with the images the stack built.
	for volume in $(docker volume ls -q --filter "label=sudoku.stack=$stack"); do
		docker volume rm "$volume"
	done
	# The images go by reference (repository:tag), never by ID: removing a tag only untags,
	# and deletes the image once no other tag or container uses it. Two stacks built from the
	# same files share image IDs, so removing by ID would take the other stack's tags too, or
	# fail while its containers run ("image is being used by running container").
	prefix="sudoku-$(lower "$stack")"
	kept=()
	for component in "${local_images[@]}"; do
		ref="$prefix-$component:local"
		if [ -n "$(docker image ls -q "$ref")" ] && ! docker image rm "$ref" >/dev/null; then
			kept+=("$ref")
		fi
	done
	if [ "${#kept[@]}" -gt 0 ]; then
		echo "warning: Docker kept these images (see its message above): ${kept[*]}" >&2
	fi
	echo "Stack $stack is destroyed, with its data volumes and images."
	;;
esac
