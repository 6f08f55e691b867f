#!/usr/bin/env bash
# End-to-end tests: bring a stack up for real, check it as a user would (cmd/smoke), tear it
# down, and check that nothing is left. docs/e2e.md.
#
#   scripts/e2e.sh local         the local stack on Docker, for a throwaway stack name
#                                (STACK, default e2e-local): up, down, up, destroy (make e2e)
#   scripts/e2e.sh aws-up        the AWS stack E2E_STACK (e2e-<run>): create it from
#                                scripts/e2e-aws.yaml and run pulumi up
#   scripts/e2e.sh aws-check     the smoke test from outside, and status.php as a one-off task
#                                inside the VPC
#   scripts/e2e.sh aws-destroy   destroy the stack and remove it (the workflow runs it always)
#
# Each phase's duration goes to stdout and, in GitHub Actions, to the job summary.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

summary=${GITHUB_STEP_SUMMARY:-/dev/null}
# Working files, out of the checkout when the runner has a temp directory.
work=${RUNNER_TEMP:-${TMPDIR:-/tmp}}

# phase NAME CMD...: run CMD, and report how long it took (on stderr: CMD's output may be
# redirected).
phase() {
	local name=$1 start=$SECONDS
	shift
	echo "== $name" >&2
	"$@"
	local took=$((SECONDS - start))
	printf '%s took %dm%02ds\n' "$name" $((took / 60)) $((took % 60)) >&2
	printf '| %s | %dm%02ds |\n' "$name" $((took / 60)) $((took % 60)) >>"$summary"
}

# ---- The local stack ----------------------------------------------------------------------

local_stack() { scripts/local.sh "$@"; }

# local_leftovers prints every container, volume, network and image of the stack that
# Docker still has: by the stack's label, and by the sudoku-<stack>- name prefix every
# object of the stack has.
local_leftovers() {
	local prefix
	prefix="sudoku-$(lower "$STACK")-"
	{
		docker ps -a --filter "label=sudoku.stack=$STACK" --format 'container {{.Names}}'
		docker ps -a --filter "name=$prefix" --format 'container {{.Names}}'
		docker volume ls --filter "label=sudoku.stack=$STACK" --format 'volume {{.Name}}'
		docker volume ls --filter "name=$prefix" --format 'volume {{.Name}}'
		docker network ls --filter "label=sudoku.stack=$STACK" --format 'network {{.Name}}'
		docker network ls --filter "name=$prefix" --format 'network {{.Name}}'
		docker image ls --filter "reference=$prefix*" --format 'image {{.Repository}}:{{.Tag}}'
	} | sort -u
}

# db_sql SQL: run SQL in the stack's MySQL as the app's user, the password read inside the
# container from the file the stack gave it (never on a command line here).
db_sql() {
	local container
	container=$(local_stack pulumi stack output containers --json | jq -r .db)
	# shellcheck disable=SC2016  # expanded inside the container
	docker exec -i "$container" sh -c 'MYSQL_PWD=$(cat "$MYSQL_PASSWORD_FILE") exec mysql -usudoku_user -N sudoku' <<<"$1"
}

# local_no_changes fails unless a preview right after `make up` finds nothing to change: the
# program's inputs must be what the providers read back (readback_test.go holds the
# containers' to terraform-provider-docker's read).
local_no_changes() {
	local_stack pulumi preview --stack "$STACK" --expect-no-changes --diff --non-interactive --skip-plugin-pre-install
}

local_cleanup() {
	local status=$?
	trap - EXIT
	if [ "$status" -ne 0 ]; then
		echo "== the end-to-end test failed; destroying stack $STACK" >&2
		local_stack destroy || true
		local_stack pulumi stack rm --yes --non-interactive >/dev/null 2>&1 || true
	fi
	exit "$status"
}

e2e_local() {
	need_pulumi
	need_docker
	need jq "Install jq: https://jqlang.org/download/ (apt-get install jq, brew install jq)."
	export STACK=${STACK:-e2e-local}
	case "$STACK" in
	local | staging | production) die "STACK=$STACK: the end-to-end test destroys its stack; give it a throwaway name (default e2e-local)" ;;
	esac
	local budget=${E2E_BUDGET_MINUTES:-10} start=$SECONDS
	printf '### The local stack, end to end (%s)\n\n| Phase | Took |\n|---|---:|\n' "$STACK" >>"$summary"
	trap local_cleanup EXIT

	# Another port than a developer's own local stack (8080), so that both can run.
	local_stack pulumi config set sudoku:httpPort "${E2E_HTTP_PORT:-18080}" >/dev/null
	phase "make up (development image, with Xdebug)" local_stack up
	phase "pulumi preview after make up: no changes" local_no_changes
	local marker
	marker="e2e-$(date +%s)-$RANDOM"
	db_sql "CREATE TABLE e2e_marker (v VARCHAR(64)); INSERT INTO e2e_marker VALUES ('$marker');"
	phase "make down" local_stack down
	# The second up runs the production image on the data and credentials the first left.
	local_stack pulumi config set sudoku:phpTarget production >/dev/null
	phase "make up (production image, kept data and credentials)" local_stack up
	phase "pulumi preview after make up: no changes" local_no_changes
	[ "$(db_sql "SELECT v FROM e2e_marker;")" = "$marker" ] ||
		die "the row written before 'make down' is not there after 'make up': the data volume did not survive"
	echo "The data written before 'make down' survived it."
	phase "make destroy" local_stack destroy

	local left
	left=$(local_leftovers)
	[ -z "$left" ] || die "'make destroy' left these behind:
$left"
	echo "Nothing of stack $STACK is left in Docker."
	local_stack pulumi stack rm --yes --non-interactive >/dev/null
	trap - EXIT

	local took=$((SECONDS - start))
	printf '| **Total** (budget %d min) | **%dm%02ds** |\n' "$budget" $((took / 60)) $((took % 60)) >>"$summary"
	echo "The end-to-end test of the local stack passed in $((took / 60))m$((took % 60))s."
	if [ "$took" -gt $((budget * 60)) ]; then
		# Over budget is a warning, not a failure: a cold cache or a slow runner is not a bug.
		echo "::warning title=End-to-end test over budget::the local end-to-end test took $((took / 60))m$((took % 60))s, over its budget of $budget minutes (E2E_BUDGET_MINUTES)"
	fi
}

# ---- The AWS stack ------------------------------------------------------------------------

aws_stack_name() {
	local stack=${E2E_STACK:-}
	case "$stack" in
	e2e-*) ;;
	*) die "E2E_STACK must be set to a name starting with e2e- (got '$stack'): the end-to-end role may only create and destroy sudoku-e2e-* resources" ;;
	esac
	[ ${#stack} -le 24 ] || die "E2E_STACK=$stack is longer than 24 characters: sudoku-$stack-<suffix> must fit AWS's names (ElastiCache: 40)"
	echo "$stack"
}

need_aws() {
	# A stack's secrets settings come from its state when Pulumi.<stack>.yaml is not there
	# (a destroy by hand, from another machine, after a runner died).
	export PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER=${PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER:-true}
	need_pulumi
	need aws "Install the AWS CLI v2: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
	need jq "Install jq: https://jqlang.org/download/ (apt-get install jq, brew install jq)."
}

# aws_select STACK [--create]: select the stack (from the environment's backend, as CI's).
aws_select() {
	local args=(--non-interactive)
	[ "${2:-}" = --create ] && args+=(--create)
	[ -n "${PULUMI_SECRETS_PROVIDER:-}" ] && args+=(--secrets-provider "$PULUMI_SECRETS_PROVIDER")
	pulumi stack select "$1" "${args[@]}"
}

output() { pulumi stack output "$@" --stack "$stack"; }

e2e_aws_up() {
	need_aws
	stack=$(aws_stack_name)
	cp scripts/e2e-aws.yaml "Pulumi.$stack.yaml"
	aws_select "$stack" --create
	if [ -n "${E2E_DOMAIN:-}" ] && [ -n "${E2E_HOSTED_ZONE_ID:-}" ]; then
		# HTTPS, with a certificate for the run's own host name, validated in the zone.
		pulumi config set --stack "$stack" sudoku:domainName "$stack.$E2E_DOMAIN"
		pulumi config set --stack "$stack" sudoku:hostedZoneId "$E2E_HOSTED_ZONE_ID"
		pulumi config rm --stack "$stack" sudoku:allowHttpOnly
	fi
	# The restore drill (docs/operations.md): the run's Aurora cluster from a snapshot.
	if [ -n "${E2E_RESTORE_SNAPSHOT:-}" ]; then
		pulumi config set --stack "$stack" sudoku:dbRestoreSnapshot "$E2E_RESTORE_SNAPSHOT"
	fi
	printf '### The AWS stack, end to end (%s)\n\n| Phase | Took |\n|---|---:|\n' "$stack" >>"$summary"
	# The run is billed from here on; aws-destroy prices it with this preview of everything.
	date +%s >"$work/e2e-aws-start"
	phase "pulumi preview" pulumi preview --stack "$stack" --json --show-sames --non-interactive >"$work/e2e-preview.json"
	phase "pulumi up" pulumi up --stack "$stack" --yes --non-interactive --skip-preview
	if [ -n "${E2E_RESTORE_SNAPSHOT:-}" ]; then
		# A cluster restored from a snapshot gets IAM authentication only from the update
		# after it: terraform-provider-aws's create passes iam_database_authentication_enabled
		# to neither RestoreDBClusterFromSnapshot nor the ModifyDBCluster after it (its
		# issue #35189), and its update does.
		phase "pulumi up after the restore" pulumi up --stack "$stack" --yes --non-interactive --skip-preview
	fi
	# Right after up, nothing may be left to change: what the program asks for is what AWS
	# and the providers read back.
	phase "pulumi preview after up: no changes" pulumi preview --stack "$stack" --expect-no-changes --diff --non-interactive
}

# mask VALUE: keep VALUE out of GitHub Actions' logs from here on.
mask() {
	[ "${GITHUB_ACTIONS:-}" = true ] && echo "::add-mask::$1"
	return 0
}

e2e_aws_check() {
	need_aws
	stack=$(aws_stack_name)
	local url keys publisher subscriber
	url=$(output url)
	# The hub's keys, from its Secrets Manager secret: into the smoke test's environment only.
	keys=$(aws secretsmanager get-secret-value --secret-id "$(output secretArns --json | jq -r .mercure)" --query SecretString --output text)
	publisher=$(jq -r .publisher_jwt_key <<<"$keys")
	subscriber=$(jq -r .subscriber_jwt_key <<<"$keys")
	mask "$publisher"
	mask "$subscriber"
	local min_tls=1.2
	case "$(pulumi config get --stack "$stack" sudoku:albSslPolicy 2>/dev/null || true)" in
	*TLS13-1-3*) min_tls=1.3 ;;
	esac
	# The load balancer takes a new target only once it passes its health checks: give it time.
	MERCURE_PUBLISHER_JWT_KEY=$publisher MERCURE_SUBSCRIBER_JWT_KEY=$subscriber \
		phase "smoke test from outside" go run ./cmd/smoke -timeout 5m -status hidden -min-tls "$min_tls" "$url"
	phase "status.php inside the VPC" aws_status
}

# aws_status runs `php public/status.php` once, as a task of the app's own task definition in
# the app service's subnets and security group: the path to MySQL and Redis the app has, which
# the internet does not. It fails unless both let the app in.
aws_status() {
	local cluster service taskdef network container overrides task exit_code
	cluster=$(output clusterName)
	service=$(output serviceNames --json | jq -r .app)
	taskdef=$(output taskDefinitionArns --json | jq -r .app)
	network=$(aws ecs describe-services --cluster "$cluster" --services "$service" --query 'services[0].networkConfiguration' --output json)
	# The app's own container: the essential one (the release step's, which runs first in
	# this task too, is not).
	container=$(aws ecs describe-task-definition --task-definition "$taskdef" --query 'taskDefinition.containerDefinitions[?essential].name | [0]' --output text)
	overrides=$(jq -cn --arg c "$container" '{containerOverrides: [{name: $c, command: ["php", "public/status.php"]}]}')
	task=$(aws ecs run-task --cluster "$cluster" --task-definition "$taskdef" --launch-type FARGATE \
		--network-configuration "$network" --overrides "$overrides" --started-by e2e-status \
		--query 'tasks[0].taskArn' --output text)
	# Polls every 6 s, up to 100 times (AWS CLI: ecs wait tasks-stopped).
	aws ecs wait tasks-stopped --cluster "$cluster" --tasks "$task"
	exit_code=$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" \
		--query "tasks[0].containers[?name=='$container'].exitCode | [0]" --output text)
	if [ "$exit_code" != 0 ]; then
		aws ecs describe-tasks --cluster "$cluster" --tasks "$task" --query 'tasks[0].{stopped: stoppedReason, containers: containers[].{name: name, exit: exitCode, reason: reason}}' >&2 || true
		die "status.php inside the VPC exited $exit_code: the app cannot use MySQL or Redis; its output is in the log group $(output logGroups --json | jq -r .app)"
	fi
	echo "status.php inside the VPC: MySQL and Redis let the app in."
}

e2e_aws_destroy() {
	need_aws
	stack=$(aws_stack_name)
	local selected
	if ! selected=$(aws_select "$stack" 2>&1); then
		if grep -q "no stack named" <<<"$selected"; then
			echo "Stack $stack does not exist: nothing to destroy."
			rm -f "Pulumi.$stack.yaml"
			return 0
		fi
		die "cannot select stack $stack to destroy it: $selected"
	fi
	phase "pulumi destroy" pulumi destroy --stack "$stack" --yes --non-interactive --skip-preview
	pulumi stack rm --stack "$stack" --yes --non-interactive
	rm -f "Pulumi.$stack.yaml"
	if [ -s "$work/e2e-aws-start" ] && [ -s "$work/e2e-preview.json" ]; then
		local took=$(($(date +%s) - $(<"$work/e2e-aws-start")))
		{
			printf '| **Total** | **%dm%02ds** |\n\n' $((took / 60)) $((took % 60))
			go run ./cmd/costreport -format markdown -title "What the stack costs" -for "${took}s" "$work/e2e-preview.json" || true
		} >>"$summary"
	fi
	echo "Stack $stack is destroyed and removed."
}

case "${1:-}" in
local) e2e_local ;;
aws-up) e2e_aws_up ;;
aws-check) e2e_aws_check ;;
aws-destroy) e2e_aws_destroy ;;
*) die "usage: scripts/e2e.sh local|aws-up|aws-check|aws-destroy" ;;
esac
