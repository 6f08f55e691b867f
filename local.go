package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/sudoku/infra/components"
)

// deployLocal composes the docker target: one bridge network, MySQL, Redis, the Mercure hub,
// the app, and a reverse proxy in front of the app and the hub. Each container starts once
// what it uses is healthy.
func deployLocal(ctx *pulumi.Context, cfg *Config) (pulumi.Map, error) {
	l := cfg.Local
	network, err := components.NewDockerNetwork(ctx, "network", nil)
	if err != nil {
		return nil, err
	}
	rt := components.DockerRuntime{Network: network, HostIP: l.HostIP, WaitTimeout: l.WaitTimeout}

	db, err := components.NewDockerDatabase(ctx, "db", &components.DockerDatabaseArgs{
		Runtime:               rt,
		MemoryMb:              l.DBMemoryMb,
		HostPort:              l.DBHostPort,
		DeleteVolumeOnDestroy: l.DeleteVolumesOnDestroy,
	})
	if err != nil {
		return nil, err
	}
	cache, err := components.NewDockerCache(ctx, "cache", &components.DockerCacheArgs{
		Runtime:               rt,
		MemoryMb:              l.CacheMemoryMb,
		MaxMemoryMb:           l.RedisMaxMemoryMb,
		HostPort:              l.RedisHostPort,
		DeleteVolumeOnDestroy: l.DeleteVolumesOnDestroy,
	})
	if err != nil {
		return nil, err
	}

	// The proxy serves app and hub on one origin, known before the proxy exists.
	url := components.LocalURL(l.HostIP, l.HTTPPort)
	mercure, err := components.NewDockerMercureHub(ctx, "mercure", &components.DockerMercureHubArgs{
		Runtime:               rt,
		MemoryMb:              l.MercureMemoryMb,
		CorsOrigins:           append([]string{url}, cfg.MercureCorsOrigins...),
		DeleteVolumeOnDestroy: l.DeleteVolumesOnDestroy,
	})
	if err != nil {
		return nil, err
	}
	app, err := components.NewDockerPhpService(ctx, "app", &components.DockerPhpServiceArgs{
		Runtime:     rt,
		AppPath:     cfg.AppPath,
		Target:      l.PhpTarget,
		PhpVersion:  cfg.PhpVersion,
		XdebugMode:  l.XdebugMode,
		MountSource: l.MountAppSource,
		MemoryMb:    l.PhpMemoryMb,
		Env: components.PhpEnv{
			AppEnv:           cfg.AppEnv,
			Database:         db,
			Cache:            cache,
			Mercure:          mercure,
			MercurePublicURL: pulumi.String(url + components.MercurePath),
			ReleaseCommand:   cfg.ReleaseCommand,
		},
	})
	if err != nil {
		return nil, err
	}
	lb, err := components.NewDockerLoadBalancer(ctx, "lb", &components.DockerLoadBalancerArgs{
		Runtime:  rt,
		HostPort: l.HTTPPort,
		MemoryMb: l.ProxyMemoryMb,
		App:      app,
		Mercure:  mercure,
	})
	if err != nil {
		return nil, err
	}

	return pulumi.Map{
		"url":         lb.URL,
		"mercureUrl":  lb.MercurePublicURL,
		"databaseUrl": db.URL,
		"redisUrl":    cache.URL,
		// The hub's JWT keys, for a client of your own and for cmd/smoke's round trip
		// (scripts/local.sh passes them to it in its environment).
		"mercurePublisherJwtKey":  pulumi.ToSecret(mercure.PublisherJWTKey),
		"mercureSubscriberJwtKey": pulumi.ToSecret(mercure.SubscriberJWTKey),
		"containers": pulumi.StringMap{
			"db":      db.Container.Name,
			"cache":   cache.Container.Name,
			"mercure": mercure.Container.Name,
			"app":     app.Container.Name,
			"lb":      lb.Container.Name,
		},
	}, nil
}
