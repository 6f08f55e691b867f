#!/usr/bin/env bash
# The workflows' steps that are more than one command (.github/workflows/*.yml).
#
#   scripts/ci.sh select             select the stack, creating it on first use
#   scripts/ci.sh guard              pulumi preview --json, then the destructive-change guard
#   scripts/ci.sh annotate-comment   put the guard's findings at the top of the PR comment
#   scripts/ci.sh allow-destructive  may a destructive deployment go ahead?
#   scripts/ci.sh verify-deployment  after pulumi up: does ECS run what it deployed?
#   scripts/ci.sh wait-for-staging   wait until no staging deployment of this commit runs
#   scripts/ci.sh record-deployment  after verify-deployment: tag staging's images deployed-<commit>
#   scripts/ci.sh promote            set production's images to what staging deployed for this commit (or a rollback's)
#   scripts/ci.sh containerd-store   the Docker engine's containerd image store (for the build cache)
#   scripts/ci.sh preview            for people (make preview-staging): the diff, then the guard
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

stack=${PULUMI_STACK:-staging}
label=allow-destructive-changes
# Working files, out of the checkout when the runner has a temp directory.
work=${RUNNER_TEMP:-.}
findings=$work/guard.md

select_stack() {
	need_pulumi
	# A backend from the environment (CI), or the one `pulumi login` chose (a person).
	if [ -z "${PULUMI_BACKEND_URL:-}${PULUMI_ACCESS_TOKEN:-}" ] && ! pulumi whoami --non-interactive >/dev/null 2>&1; then
		die "no state backend: run 'pulumi login' (Pulumi Cloud, or s3://bucket?region=eu-central-1), or set PULUMI_BACKEND_URL or PULUMI_ACCESS_TOKEN (in CI: the repository variable or secret). See docs/continuous-delivery.md."
	fi
	local args=(--create --non-interactive)
	if [ -n "${PULUMI_SECRETS_PROVIDER:-}" ]; then
		args+=(--secrets-provider "$PULUMI_SECRETS_PROVIDER")
	fi
	pulumi stack select "$stack" "${args[@]}"
}

# guard writes the findings (guard.md), then the cost of the change under them, and the step
# outputs destructive=true|false. It fails when the preview fails or cannot be read: a
# preview nobody could judge is not a pass.
guard() {
	local preview_status=0 guard_status=0
	# Built, not `go run`: go run turns every non-zero exit into 1, and 1 and 2 differ here.
	# One go build for the three (it links them side by side), unless SUDOKU_TOOLS names a
	# directory where they are built already (the tests build them once for all their runs).
	tools=${SUDOKU_TOOLS:-}
	if [ -z "$tools" ]; then
		tools=$work
		go build -o "$tools/" ./cmd/previewguard ./cmd/costreport ./cmd/diagram
	fi
	# --show-replacement-steps: without it, the JSON has only the logical "replace" step of a
	# delete-before-replace, and the dependents it deletes first are not in it at all.
	# --show-sames: without it, the cost report would not see what the change keeps.
	pulumi preview --stack "$stack" --json --show-replacement-steps --show-sames --non-interactive >"$work/preview.json" || preview_status=$?
	"$tools/previewguard" -format markdown "$work/preview.json" >"$findings" || guard_status=$?
	if [ "$guard_status" -lt 2 ] && [ "$preview_status" -eq 0 ]; then
		{
			echo
			"$tools/costreport" -format markdown -title "Cost of this change to $stack" "$work/preview.json"
		} >>"$findings" || echo "::warning::The cost report failed; the guard's findings stand."
		architecture >>"$findings"
	fi
	cat "$findings"
	if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
		cat "$findings" >>"$GITHUB_STEP_SUMMARY"
	fi
	if [ "$guard_status" -ge 2 ] || [ "$preview_status" -ne 0 ]; then
		die "pulumi preview failed (exit $preview_status) or the guard could not read it (exit $guard_status)"
	fi
	local destructive=false
	if [ "$guard_status" -eq 1 ]; then
		destructive=true
	fi
	if [ -n "${GITHUB_OUTPUT:-}" ]; then
		echo "destructive=$destructive" >>"$GITHUB_OUTPUT"
	fi
}

# architecture prints the stack's diagram after the change (cmd/diagram), collapsed, and
# whether it differs from the one in the docs (README.md draws the local stack, docs/aws.md
# staging and production).
architecture() {
	local drawn documented note name=${stack##*/}
	drawn=$("$tools/diagram" -markdown "$work/preview.json" 2>/dev/null) || return 0
	documented=$(cat README.md docs/*.md | sed -n "/<!-- diagram-$name:begin/,/<!-- diagram-$name:end/p" | sed '1d;$d')
	note="as the docs draw it"
	if [ -z "$documented" ]; then
		note="the docs draw no diagram of this stack"
	elif [ "$drawn" != "$documented" ]; then
		note="it differs from the docs': run make golden to redraw that"
	fi
	printf '\n<details><summary>Architecture of %s after this change (%s)</summary>\n\n%s\n\n</details>\n' "$name" "$note" "$drawn"
}

# annotate_comment inserts the findings under the heading of the comment pulumi/actions
# posted. It edits only that comment: written by github-actions[bot] (the workflow's token),
# starting with the exact heading pulumi/actions v7 writes for this project and stack
# ("#### :tropical_drink: `preview` on sudoku/staging", src/libs/pr.ts) and holding its
# "Pulumi report" summary; anyone else's comment is left alone. Each push rewrites that
# comment, and this step puts fresh findings back.
annotate_comment() {
	need gh "It is on GitHub's runners; elsewhere see https://cli.github.com."
	need jq "It is on GitHub's runners; elsewhere install jq."
	: "${PR_NUMBER:?PR_NUMBER is not set}" "${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set}"
	[ -s "$findings" ] || die "$findings is missing: run scripts/ci.sh guard first"
	local comment id body project heading
	project=$(sed -n 's/^name: *//p' Pulumi.yaml)
	heading="#### :tropical_drink: \`preview\` on $project/$stack"
	comment=$(gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" |
		jq -s --arg heading "$heading" '[add[]? | select(.user.login == "github-actions[bot]"
			and (.body | startswith($heading + "\n") and contains("<summary>Pulumi report</summary>")))] | last | if . then {id, body} else null end')
	if [ "$comment" = null ] || [ -z "$comment" ]; then
		echo "::warning::No preview comment found; posting the guard's findings on their own."
		gh pr comment "$PR_NUMBER" --repo "$GITHUB_REPOSITORY" --body-file "$findings"
		return
	fi
	id=$(jq -r .id <<<"$comment")
	body=$(jq -r --rawfile findings "$findings" \
		'.body | (split("\n") | .[0]) + "\n\n" + $findings + "\n" + (split("\n") | .[1:] | join("\n"))' <<<"$comment")
	gh api -X PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$id" -f body="$body" >/dev/null
	echo "Findings added to comment $id."
}

# allow_destructive passes when a person started the deployment with allow-destructive, or
# when the pull request merged as this commit had the label.
allow_destructive() {
	if [ "${ALLOW_DESTRUCTIVE_INPUT:-false}" = true ]; then
		echo "Allowed: the workflow was started with allow-destructive."
		return
	fi
	need gh "It is on GitHub's runners; elsewhere see https://cli.github.com."
	: "${GITHUB_REPOSITORY:?}" "${GITHUB_SHA:?}"
	local prs
	prs=$(gh api "repos/$GITHUB_REPOSITORY/commits/$GITHUB_SHA/pulls" \
		--jq "[.[] | select(.merged_at != null) | select(any(.labels[]; .name == \"$label\")) | \"#\\(.number)\"] | join(\" \")")
	if [ -n "$prs" ]; then
		echo "Allowed: $prs had the label $label."
		return
	fi
	echo "::error::This deployment replaces or deletes a stateful resource (see the job summary), and no one allowed it: the merged pull request lacks the label $label. If it is intended, run this workflow by hand with allow-destructive (docs/continuous-delivery.md, Intended replacements)."
	exit 1
}

# verify_deployment fails unless each ECS service's primary deployment is COMPLETED and runs
# the task definition `pulumi up` deployed (the stack output taskDefinitionArns). When a
# rollout fails, the circuit breaker rolls the service back to the previous revision and the
# service is stable again, so `pulumi up` succeeds (terraform-provider-aws#20858); only this
# check notices. A primary deployment still IN_PROGRESS is polled.
verify_deployment() {
	need pulumi "Install the Pulumi CLI: https://www.pulumi.com/docs/install/."
	need aws "It is on GitHub's runners; elsewhere see https://aws.amazon.com/cli/."
	need jq "It is on GitHub's runners; elsewhere install jq."
	local cluster services deployed attempts=${SUDOKU_ROLLOUT_ATTEMPTS:-60} pause=${SUDOKU_ROLLOUT_PAUSE:-10}
	cluster=$(pulumi stack output clusterName --stack "$stack")
	services=$(pulumi stack output serviceNames --stack "$stack" --json)
	deployed=$(pulumi stack output taskDefinitionArns --stack "$stack" --json)
	local name service want state running reason failed=0 i
	# One jq for the list and one for each answer (jq takes about 20 ms to start).
	while read -r -u 3 name service want; do
		for ((i = 1; ; i++)); do
			IFS=$'\t' read -r state running reason < <(aws ecs describe-services --cluster "$cluster" --services "$service" --output json |
				jq -r '[.services[0].deployments[]? | select(.status == "PRIMARY")][0] // {}
					| [.rolloutState // "UNKNOWN", .taskDefinition // "nothing", .rolloutStateReason // "no reason given"] | @tsv')
			if [ "$state" != IN_PROGRESS ] || [ "$i" -ge "$attempts" ]; then
				break
			fi
			sleep "$pause"
		done
		if [ "$running" != "$want" ]; then
			echo "::error::$name ($service): ECS runs $running, but pulumi up deployed $want. The rollout failed and ECS rolled the service back; its events (ECS console, or aws ecs describe-services) say why."
			failed=1
		elif [ "$state" != COMPLETED ]; then
			echo "::error::$name ($service): its deployment of $running is $state, not COMPLETED: $reason"
			failed=1
		else
			echo "$name ($service): runs $running; rollout COMPLETED."
		fi
	done 3< <(jq -r --argjson deployed "$deployed" 'to_entries[] | "\(.key) \(.value) \($deployed[.key] // "")"' <<<"$services")
	[ "$failed" = 0 ] || exit 1
}

# wait_for_staging waits while a staging deployment of this commit is queued or running, so
# that production never deploys beside it (each stack's own concurrency group cannot see the
# other's). It gives up after SUDOKU_WAIT_MINUTES (30).
wait_for_staging() {
	need gh "It is on GitHub's runners; elsewhere see https://cli.github.com."
	need jq "It is on GitHub's runners; elsewhere install jq."
	: "${GITHUB_REPOSITORY:?}" "${GITHUB_SHA:?}"
	local deadline=$(($(date +%s) + ${SUDOKU_WAIT_MINUTES:-30} * 60)) running
	while :; do
		running=$(gh run list --repo "$GITHUB_REPOSITORY" --workflow deploy.yml --commit "$GITHUB_SHA" --json status,databaseId \
			--jq '[.[] | select(.status != "completed") | .databaseId] | map(tostring) | join(" ")')
		if [ -z "$running" ]; then
			echo "No staging deployment of $GITHUB_SHA is in flight."
			return
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			die "staging deployments of $GITHUB_SHA are still running ($running): production waits for them"
		fi
		echo "Waiting for the staging deployment of $GITHUB_SHA (run $running)..."
		sleep "${SUDOKU_WAIT_PAUSE:-20}"
	done
}

# ecr_ref REF: parse an ECR image by digest into ref_registry (the account), ref_region,
# ref_repository and ref_digest; die if REF is not one.
ecr_ref() {
	[[ $1 =~ ^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com/([^@]+)@(sha256:[0-9a-f]{64})$ ]] ||
		die "not an ECR image by digest: '$1'"
	ref_registry=${BASH_REMATCH[1]} ref_region=${BASH_REMATCH[2]} ref_repository=${BASH_REMATCH[3]} ref_digest=${BASH_REMATCH[4]}
}

# ecr_image REGISTRY REGION REPOSITORY IMAGE-ID: the image's digest, manifest and manifest
# media type as JSON, or nothing when the repository has no such image (imageTag=T or
# imageDigest=D). BatchGetImage is all it needs: what an account that may only pull has.
ecr_image() {
	ecr_get "$@" '.images[0] // empty | {digest: .imageId.imageDigest, manifest: .imageManifest, mediaType: .imageManifestMediaType}'
}

# ecr_digest REGISTRY REGION REPOSITORY IMAGE-ID: the image's digest, or nothing.
ecr_digest() {
	ecr_get "$@" '.images[0].imageId.imageDigest // empty'
}

# ecr_get REGISTRY REGION REPOSITORY IMAGE-ID FILTER: BatchGetImage's answer, through jq's FILTER.
ecr_get() {
	aws ecr batch-get-image --registry-id "$1" --region "$2" --repository-name "$3" --image-ids "$4" \
		--accepted-media-types application/vnd.docker.distribution.manifest.v2+json application/vnd.oci.image.manifest.v1+json \
		application/vnd.docker.distribution.manifest.list.v2+json application/vnd.oci.image.index.v1+json \
		--output json | jq -c -r "$5"
}

# record_deployment tags the images staging runs deployed-<commit>, once the deployment of
# that commit is verified (verify-deployment): production promotes exactly those, whatever
# staging deployed since, and the lifecycle policy keeps them. A re-run finds the tags there
# and changes nothing (ECR refuses to move an immutable tag; PutImage of a tag the image has
# fails with ImageAlreadyExistsException).
record_deployment() {
	need pulumi "Install the Pulumi CLI: https://www.pulumi.com/docs/install/."
	need aws "It is on GitHub's runners; elsewhere see https://aws.amazon.com/cli/."
	need jq "It is on GitHub's runners; elsewhere install jq."
	: "${GITHUB_SHA:?GITHUB_SHA is not set}"
	local refs name ref have image tag="deployed-$GITHUB_SHA"
	refs=$(pulumi stack output imageRefs --stack "$stack" --json)
	while read -r -u 3 name ref; do
		ecr_ref "$ref"
		have=$(ecr_digest "$ref_registry" "$ref_region" "$ref_repository" "imageTag=$tag")
		if [ "$have" = "$ref_digest" ]; then
			echo "$ref_repository@$ref_digest is already $tag."
			continue
		elif [ -n "$have" ]; then
			die "$ref_repository's $tag names $have, but staging runs $ref_digest: a tag records one deployment, and ECR's tags here are immutable"
		fi
		image=$(ecr_image "$ref_registry" "$ref_region" "$ref_repository" "imageDigest=$ref_digest")
		[ -n "$image" ] || die "$ref_repository has no image $ref_digest, which staging runs"
		aws ecr put-image --registry-id "$ref_registry" --region "$ref_region" --repository-name "$ref_repository" \
			--image-tag "$tag" --image-manifest "$(jq -r .manifest <<<"$image")" \
			--image-manifest-media-type "$(jq -r .mediaType <<<"$image")" >/dev/null
		echo "Tagged $ref_repository@$ref_digest $tag."
	done 3< <(jq -r 'to_entries[] | "\(.key) \(.value)"' <<<"$refs")
}

# promote sets production's images: those staging deployed for this commit (the images tagged
# deployed-<commit> by that deployment's record-deployment step, in staging's repositories),
# or, for a rollback, APP_IMAGE and MERCURE_IMAGE. It only reads the repositories
# (BatchGetImage), so production's role may be one that may only pull from staging's
# (ecrReaderAccounts), in another account; staging's registry is STAGING_REGISTRY
# (ACCOUNT.dkr.ecr.REGION.amazonaws.com), by default the account and region of these
# credentials. It refuses a stack file with placeholders left (lines marked REPLACE).
promote() {
	need pulumi "Install the Pulumi CLI: https://www.pulumi.com/docs/install/."
	need aws "It is on GitHub's runners; elsewhere see https://aws.amazon.com/cli/."
	need jq "It is on GitHub's runners; elsewhere install jq."
	local file="Pulumi.${stack##*/}.yaml" placeholders app mercure ref
	if placeholders=$(grep -n 'REPLACE' "$file"); then
		die "$file still has placeholders; set them before deploying (docs/aws.md: Production):
$placeholders"
	fi
	if [ -n "${APP_IMAGE:-}${MERCURE_IMAGE:-}" ]; then
		if [ -z "${APP_IMAGE:-}" ] || [ -z "${MERCURE_IMAGE:-}" ]; then
			die "a rollback names both images (app-image and mercure-image)"
		fi
		app=$APP_IMAGE
		mercure=$MERCURE_IMAGE
		for ref in "$app" "$mercure"; do
			ecr_ref "$ref"
			[ -n "$(ecr_image "$ref_registry" "$ref_region" "$ref_repository" "imageDigest=$ref_digest")" ] ||
				die "$ref_repository has no image $ref_digest to roll back to"
		done
		echo "Rolling back to the images given."
	else
		: "${GITHUB_SHA:?GITHUB_SHA is not set}"
		local registry=${STAGING_REGISTRY:-} staging project component repo digest
		if [ -z "$registry" ]; then
			registry="$(aws sts get-caller-identity --query Account --output text).dkr.ecr.${AWS_REGION:-eu-central-1}.amazonaws.com"
		fi
		[[ $registry =~ ^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com$ ]] ||
			die "STAGING_REGISTRY must be ACCOUNT.dkr.ecr.REGION.amazonaws.com; got '$registry'"
		local account=${BASH_REMATCH[1]} region=${BASH_REMATCH[2]}
		staging=$(lower "${STAGING_STACK:-staging}")
		project=$(sed -n 's/^name: *//p' Pulumi.yaml)
		for component in app mercure; do
			# The repositories the program names sudoku-<stack>-<component> (components/ecr.go).
			repo="$project-${staging##*/}-$component"
			digest=$(ecr_digest "$account" "$region" "$repo" "imageTag=deployed-$GITHUB_SHA")
			[ -n "$digest" ] ||
				die "staging has not deployed $GITHUB_SHA: $registry/$repo has no image tagged deployed-$GITHUB_SHA (each staging deployment tags what it deployed once ECS runs it; a deployment that failed its check, or a push that a newer one replaced in the queue, tags nothing): release a commit that staging deployed"
			printf -v "$component" '%s/%s@%s' "$registry" "$repo" "$digest"
		done
	fi
	pulumi config set --stack "$stack" sudoku:appImage "$app"
	pulumi config set --stack "$stack" sudoku:mercureImage "$mercure"
	local summary="### Promoted to $stack

| Service | Image |
|---|---|
| app | \`$app\` |
| mercure | \`$mercure\` |

To roll back to these later, run *deploy production* by hand with them as app-image and mercure-image."
	echo "$summary"
	if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
		echo "$summary" >>"$GITHUB_STEP_SUMMARY"
	fi
}

# containerd_store turns on the Docker engine's containerd image store, with which the
# engine's own builder (the `docker` buildx driver, the one pulumi-docker's builds use too)
# can import and export the GitHub Actions build cache (Docker docs, "Cache storage
# backends": the docker driver supports gha "only if you have enabled the containerd image
# store"). It keeps whatever else daemon.json sets, restarts the engine and checks the store.
containerd_store() {
	local conf=${DOCKER_DAEMON_JSON:-/etc/docker/daemon.json} current='{}'
	if [ -s "$conf" ]; then
		current=$(sudo cat "$conf")
	fi
	jq '.features["containerd-snapshotter"] = true' <<<"$current" | sudo tee "$conf" >/dev/null
	sudo systemctl restart docker
	local status
	for _ in $(seq 30); do
		if status=$(docker info --format '{{json .DriverStatus}}' 2>/dev/null); then
			break
		fi
		sleep 1
	done
	grep -q io.containerd.snapshotter <<<"${status:-}" ||
		die "the Docker engine does not use the containerd image store after the restart (driver status: ${status:-no answer})"
	echo "Docker uses the containerd image store."
}

# preview is what a developer with staging credentials runs: the diff, then the guard.
preview() {
	export PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER=true
	select_stack
	pulumi preview --stack "$stack" --diff --non-interactive
	work=$(mktemp -d)
	findings=$work/guard.md
	guard
}

case "${1:-}" in
preview) preview ;;
select) select_stack ;;
guard) guard ;;
annotate-comment) annotate_comment ;;
allow-destructive) allow_destructive ;;
verify-deployment) verify_deployment ;;
wait-for-staging) wait_for_staging ;;
record-deployment) record_deployment ;;
promote) promote ;;
containerd-store) containerd_store ;;
*) die "usage: scripts/ci.sh select|guard|annotate-comment|allow-destructive|verify-deployment|record-deployment|wait-for-staging|promote|containerd-store|preview" ;;
esac
