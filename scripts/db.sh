#!/usr/bin/env bash
# Backups of a local stack's database, as the MySQL image's own documentation makes them
# (hub.docker.com/_/mysql, "Creating database dumps": mysqldump through docker exec, and
# mysql with the dump on its standard input to restore).
#
#   scripts/db.sh dump [FILE]      a dump of the database into FILE (default:
#                                  backups/<stack>-<UTC time>.sql)
#   scripts/db.sh restore FILE     loads FILE into the running stack's database, after a dump
#                                  of what it holds now (backups/<stack>-before-restore-...)
#
# STACK=name for another stack (default: local). Only the running stack's database
# container is used; no Pulumi, no credentials on the host: the root password stays in the
# container's secret file, and reaches mysqldump and mysql in an option file that only the
# command's own shell writes (never a command line, which ps shows).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

action=${1:-}
stack=${STACK:-local}
case "$action" in
dump | restore) ;;
*) die "usage: scripts/db.sh dump [FILE] | restore FILE" ;;
esac
need_docker

container="sudoku-$(lower "$stack")-db"
backups=${SUDOKU_BACKUP_DIR:-backups}
now=$(date -u +%Y%m%dT%H%M%SZ)

running=$(docker inspect --format '{{.State.Running}}' "$container" 2>/dev/null) || running=
[ "$running" = true ] ||
	die "no database container $container is running: bring the stack up first (STACK=$stack make up)."

# In the container: an option file with the root password (from MYSQL_ROOT_PASSWORD_FILE,
# which the stack uploads), readable by its shell alone, removed on the way out; then the
# client named in $1 with it. --defaults-extra-file must come first. (Single quotes: the
# container's shell expands it.)
# shellcheck disable=SC2016
client='set -eu
umask 077
opts=$(mktemp)
trap "rm -f \"$opts\"" EXIT
printf "[client]\nuser=root\npassword=\"%s\"\n" "$(cat "$MYSQL_ROOT_PASSWORD_FILE")" >"$opts"
tool=$1
shift
"$tool" --defaults-extra-file="$opts" "$@"'

# dump FILE: the app's database (tables, routines, triggers, events), as one consistent
# snapshot of InnoDB (--single-transaction: no lock that stops the app). Written beside FILE
# and renamed once complete, so FILE is either a whole dump or not there.
dump() {
	local file=$1 partial
	mkdir -p "$(dirname "$file")"
	partial="$file.partial"
	(umask 077 && : >"$partial")
	if ! docker exec "$container" sh -c "$client" sh mysqldump --single-transaction --routines --triggers --events \
		--no-tablespaces sudoku >"$partial"; then
		rm -f "$partial"
		die "the dump of $container failed (mysqldump's message is above); nothing was written to $file."
	fi
	if ! is_dump "$partial"; then
		rm -f "$partial"
		die "mysqldump in $container did not finish its dump; nothing was written to $file."
	fi
	mv "$partial" "$file"
}

# is_dump FILE: FILE is a whole dump by mysqldump or MariaDB's: its header (MariaDB's since
# 10.11.8 come after a sandbox-mode line), and the line it writes last.
is_dump() {
	head -n 2 "$1" | grep -Eq '^-- (MySQL|MariaDB) dump ' && tail -n 3 "$1" | grep -q '^-- Dump completed'
}

case "$action" in
dump)
	file=${2:-$backups/$stack-$now.sql}
	[ ! -e "$file" ] || die "$file exists; name another file, or move it away first."
	dump "$file"
	echo "Dumped the database of stack $stack to $file ($(wc -c <"$file" | tr -d ' ') bytes)."
	;;
restore)
	file=${2:-}
	[ -n "$file" ] || die "name the dump to load: make db-restore FILE=backups/<file>.sql"
	if [ ! -f "$file" ] || [ ! -r "$file" ]; then
		die "$file is not a file this user can read."
	fi
	is_dump "$file" ||
		die "$file is not a whole dump of mysqldump (make db-dump): it lacks the '-- MySQL dump' header or the '-- Dump completed' line it ends with. Nothing was changed."
	# What the database holds now, first: a restore replaces the tables the dump has. A name
	# no file has yet, even for a second restore within the same second.
	safety="$backups/$stack-before-restore-$now.sql"
	n=1
	while [ -e "$safety" ]; do
		n=$((n + 1))
		safety="$backups/$stack-before-restore-$now-$n.sql"
	done
	dump "$safety"
	if ! docker exec -i "$container" sh -c "$client" sh mysql sudoku <"$file"; then
		die "loading $file into $container failed (mysql's message is above); the tables it had reached may have changed. What the database held before is in $safety: make db-restore FILE=$safety."
	fi
	echo "Loaded $file into the database of stack $stack. What it held before is in $safety."
	;;
esac
