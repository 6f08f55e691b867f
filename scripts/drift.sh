#!/usr/bin/env bash
# Drift detection (docs/drift-detection.md; .github/workflows/drift.yml runs it):
#
#   scripts/drift.sh check STACK   pulumi refresh --preview-only --json of STACK (read-only),
#                                  cmd/driftreport's report to the job summary, and the
#                                  stack's drift issue opened, updated or closed
#
# Exit status: 0 when the stack matches the cloud, 2 when it drifted (the issue is open and
# up to date), 1 on any failure (when the refresh or its report fails, no issue is touched).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

label=drift

# check STACK: STACK is the backend's name for it (staging, or <org>/staging on Pulumi
# Cloud); the issue is named after the stack alone, one open issue per stack.
check() {
	local stack=${1:-}
	[ -n "$stack" ] || die "usage: scripts/drift.sh check STACK (staging, production, or <org>/<stack> on Pulumi Cloud)"
	need pulumi "Install the Pulumi CLI: https://www.pulumi.com/docs/install/."
	need gh "It is on GitHub's runners; elsewhere see https://cli.github.com."
	need jq "It is on GitHub's runners; elsewhere install jq."
	: "${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set (owner/repo of the issues)}"
	local name=${stack##*/} work tools json report status=0
	work=${RUNNER_TEMP:-}
	if [ -z "$work" ]; then
		work=$(mktemp -d)
	fi
	json=$work/refresh-$name.json report=$work/drift-$name.md

	# Built, not `go run`: go run turns every non-zero exit into 1, and 2 (drift) differs
	# from 1 (unreadable) here. SUDOKU_TOOLS names a directory where it is built already.
	tools=${SUDOKU_TOOLS:-}
	if [ -z "$tools" ]; then
		tools=$work/drift-tools
		go build -o "$tools/" ./cmd/driftreport || die "could not build cmd/driftreport"
	fi
	[ -x "$tools/driftreport" ] || die "$tools/driftreport is missing (SUDOKU_TOOLS names a directory without it)"

	# Read-only, and a refresh preview that shows its changes (Pulumi CLI source, v3.260):
	# --preview-only runs the refresh as a dry run, which saves no state, and on the S3
	# backend takes no lock (Refresh in pkg/backend/diy/backend.go; Pulumi Cloud's in
	# pkg/backend/httpstate/backend.go is the same dry run), and
	# refuses --yes and --skip-preview (updateFlagsToOptions, pkg/cmd/pulumi/operations/io.go),
	# so PULUMI_SKIP_CONFIRMATIONS would only make it fail. --run-program=false: the state
	# alone, whatever PULUMI_RUN_PROGRAM says. --suppress-outputs: the JSON leaves out the
	# stack's outputs (stateForJSONOutput, pkg/backend/display/json.go). Unset:
	# PULUMI_ENABLE_STREAMING_JSON_PREVIEW, which would stream events instead of the one
	# document driftreport reads (display.ShowEvents), and PULUMI_ENABLE_LEGACY_REFRESH_DIFF,
	# whose steps carry no detailed diff, so the JSON would show no change at all.
	unset PULUMI_SKIP_CONFIRMATIONS PULUMI_ENABLE_STREAMING_JSON_PREVIEW PULUMI_ENABLE_LEGACY_REFRESH_DIFF PULUMI_RUN_PROGRAM
	pulumi refresh --preview-only --json --non-interactive --run-program=false --suppress-outputs \
		--stack "$stack" >"$json" || status=$?
	if [ "$status" -ne 0 ]; then
		local errors
		errors=$(jq -r '[.diagnostics[]? | select(.severity == "error") | .message] | join("; ")' "$json" 2>/dev/null) || errors=
		die "pulumi refresh --preview-only of $stack failed (exit $status)${errors:+: $errors}. Nothing was checked; the drift issue is left as it was."
	fi
	status=0
	"$tools/driftreport" -stack "$name" "$json" >"$report" || status=$?
	case "$status" in
	0 | 2) ;;
	*) die "cmd/driftreport could not read the refresh preview of $stack (exit $status, its message above). Nothing was judged; the drift issue is left as it was." ;;
	esac
	cat "$report"
	if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
		cat "$report" >>"$GITHUB_STEP_SUMMARY"
	fi

	local title="Drift: stack $name" open number
	open=$(open_issues "$title")
	number=$(jq -r 'sort_by(.number) | first | .number // empty' <<<"$open")
	if [ "$(jq length <<<"$open")" -gt 1 ]; then
		echo "::warning::More than one open issue is titled '$title' ($(jq -r 'map("#\(.number)") | join(" ")' <<<"$open")): a drift updates #$number, the oldest; a clean check closes them all."
	fi
	if [ "$status" -eq 0 ]; then
		for number in $(jq -r '.[].number' <<<"$open"); do
			gh issue close "$number" --repo "$GITHUB_REPOSITORY" --reason completed \
				--comment "No drift any more: $name matches the cloud again$(run_link " (checked by %s)")."
			echo "Closed #$number: $name matches the cloud."
		done
		return 0
	fi
	# An issue holds 65536 characters; the job summary keeps the whole report.
	local body=$work/drift-issue-$name.md text limit=60000
	text=$(cat "$report")
	if [ "${#text}" -gt "$limit" ]; then
		text="${text:0:$limit}

_(Shortened: the whole report is in the job summary of the run.)_"
	fi
	printf '%s\n\n---\n_Each run of the drift workflow rewrites this issue, and closes it once the stack matches the cloud again. Last checked: %s%s. How to respond: %s._\n' \
		"$text" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(run_link ', by %s')" "$(doc_link)" >"$body"
	if [ -n "$number" ]; then
		gh issue edit "$number" --repo "$GITHUB_REPOSITORY" --body-file "$body" >/dev/null
		echo "::error::$name has drifted from its state: see issue #$number (updated) and the job summary."
	else
		ensure_label
		local url
		url=$(gh issue create --repo "$GITHUB_REPOSITORY" --title "$title" --label "$label" --body-file "$body")
		echo "::error::$name has drifted from its state: see $url (opened) and the job summary."
	fi
	exit 2
}

# open_issues TITLE: the open issues labelled drift whose title is exactly TITLE, as a JSON
# array of {number, title}. The search is GitHub's (gh issue list --search), which matches
# words, so the exact title is checked here: "Drift: stack staging" is not
# "Drift: stack staging-eu".
open_issues() {
	gh issue list --repo "$GITHUB_REPOSITORY" --label "$label" --state open \
		--search "\"$1\" in:title" --json number,title --limit 100 |
		jq -c --arg title "$1" '[.[] | select(.title == $title) | {number, title}]'
}

# ensure_label creates the drift label the first time (gh issue create --label fails on a
# label the repository lacks).
ensure_label() {
	local have
	have=$(gh label list --repo "$GITHUB_REPOSITORY" --search "$label" --json name --limit 100 |
		jq -r --arg name "$label" '[.[] | select(.name == $name)] | length')
	if [ "$have" = 0 ]; then
		gh label create "$label" --repo "$GITHUB_REPOSITORY" --color D93F0B \
			--description "A stack differs from the cloud (docs/drift-detection.md)" >/dev/null
	fi
}

# run_link FORMAT: FORMAT with %s as a link to this workflow run, or nothing outside Actions.
run_link() {
	if [ -n "${GITHUB_RUN_ID:-}" ]; then
		# shellcheck disable=SC2059 # the format is the caller's
		printf "$1" "[run ${GITHUB_RUN_ID}](${GITHUB_SERVER_URL:-https://github.com}/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID)"
	fi
}

# doc_link: docs/drift-detection.md, as a link to this commit's copy inside Actions (a
# relative link in an issue would not resolve).
doc_link() {
	if [ -n "${GITHUB_SHA:-}" ]; then
		printf '[docs/drift-detection.md](%s/%s/blob/%s/docs/drift-detection.md)' "${GITHUB_SERVER_URL:-https://github.com}" "$GITHUB_REPOSITORY" "$GITHUB_SHA"
	else
		printf 'docs/drift-detection.md'
	fi
}

case "${1:-}" in
check)
	shift
	check "$@"
	;;
*) die "usage: scripts/drift.sh check STACK" ;;
esac
