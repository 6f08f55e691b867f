//go:build tools

// Package mercure pins the Mercure hub's Caddy build (the binary the dunglas/mercure image
// runs), so that the tests can validate and run docker/mercure/Caddyfile with the release
// the image uses. .ci/run builds it:
//
//	go build -C tools/mercure -o BIN github.com/dunglas/mercure/caddy/mercure
package mercure

import _ "github.com/dunglas/mercure/caddy/mercure"
