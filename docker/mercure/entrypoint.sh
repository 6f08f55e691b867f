#!/bin/sh
# Locally the hub's JWT keys arrive as files, named by NAME_FILE, so that they stay out of
# the container's configuration (docker inspect); each becomes NAME here, which the
# Caddyfile reads. On ECS they arrive as NAME itself, from Secrets Manager.
set -eu
for name in MERCURE_PUBLISHER_JWT_KEY MERCURE_SUBSCRIBER_JWT_KEY; do
	eval "file=\${${name}_FILE:-}"
	[ -n "$file" ] || continue
	eval "set_already=\${${name}:-}"
	if [ -n "$set_already" ]; then
		echo "mercure-entrypoint: both $name and ${name}_FILE are set; set one" >&2
		exit 1
	fi
	if ! value=$(cat "$file"); then
		echo "mercure-entrypoint: ${name}_FILE names $file, which cannot be read" >&2
		exit 1
	fi
	export "$name=$value"
	unset "${name}_FILE"
done
exec "$@"
