package diagram

import (
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/sudoku/infra/internal/preview"
)

// proxyRoutes are the paths docker/proxy/default.conf.template sends to each upstream
// variable of the proxy container.
var proxyRoutes = map[string]string{"APP_UPSTREAM": "everything else", "MERCURE_UPSTREAM": "/.well-known/mercure"}

// services are the variables through which the app finds MySQL and Redis: the component of
// that kind is at the other end.
var services = map[string]struct{ kind, protocol string }{
	"DATABASE_URL": {"Database", "mysql"}, "REDIS_URL": {"Cache", "redis"},
}

const (
	host  = "host"
	state = "state"
)

func env(st *preview.State) map[string]string {
	out := map[string]string{}
	for _, e := range strs(st.Inputs["envs"]) {
		k, v, _ := strings.Cut(e, "=")
		out[k] = v
	}
	return out
}

func (d *drawing) docker() {
	g := d.g
	containers := map[string]*component{} // container name or network alias -> component
	var hostIPs []string
	for _, c := range g.ofType("docker:index/container:Container") {
		comp := g.componentOf(c)
		if comp == nil {
			continue
		}
		containers[str(c.Inputs, "name")] = comp
		for _, n := range list(c.Inputs["networksAdvanced"]) {
			for _, alias := range strs(obj(n)["aliases"]) {
				containers[alias] = comp
			}
		}
		for _, p := range list(c.Inputs["ports"]) {
			hostIPs = append(hostIPs, str(obj(p), "ip"))
		}
	}
	network := "Docker network"
	for _, n := range g.ofType("docker:index/network:Network") {
		network += " " + str(n.Inputs, "name")
	}
	ip := "127.0.0.1"
	if len(hostIPs) > 0 {
		ip = hostIPs[0]
	}
	d.line("  %s((%q))", host, "Host "+ip)
	d.line("  subgraph net[%q]", network)
	for _, c := range g.sortedComponents() {
		if c.kind != "Network" {
			d.node("    ", c, d.dockerSummary(c))
		}
	}
	d.line("  end")
	d.line("  %s[(%q)]", state, "Pulumi state, secrets encrypted")

	for _, c := range g.ofType("docker:index/container:Container") {
		comp := g.componentOf(c)
		if comp == nil {
			continue
		}
		for _, p := range list(c.Inputs["ports"]) {
			d.edge(host, "-->", fmt.Sprintf("tcp %d → %d", int(num(obj(p), "external")), int(num(obj(p), "internal"))), comp.id())
		}
		vars := env(c)
		for name, route := range proxyRoutes {
			if upstream, ok := vars[name]; ok {
				name, port, _ := strings.Cut(upstream, ":")
				if to := containers[name]; to != nil {
					d.edge(comp.id(), "-->", fmt.Sprintf("http %s · %s", port, route), to.id())
				}
			}
		}
		if u, err := url.Parse(vars["MERCURE_URL"]); err == nil && containers[u.Hostname()] != nil {
			d.edge(comp.id(), "-->", fmt.Sprintf("http %s · publish", u.Port()), containers[u.Hostname()].id())
		}
		for name, svc := range services {
			_, plain := vars[name]
			_, file := vars[name+"_FILE"]
			if !plain && !file {
				continue
			}
			for _, other := range g.components {
				if other.kind == svc.kind {
					d.edge(comp.id(), "-->", fmt.Sprintf("%s · %s", svc.protocol, name), other.id())
				}
			}
		}
		var files []string
		for _, u := range list(c.Inputs["uploads"]) {
			if f := str(obj(u), "file"); strings.HasPrefix(f, "/run/secrets/") || strings.Contains(f, "auth.conf") {
				files = append(files, path.Base(f))
			}
		}
		if len(files) > 0 {
			sort.Strings(files)
			d.edge(state, "-.->", "uploads "+strings.Join(files, ", "), comp.id())
		}
		for _, v := range list(c.Inputs["volumes"]) {
			if name := str(obj(v), "volumeName"); name != "" {
				node := "vol_" + comp.id()
				d.line("  %s[(%q)]", node, "volume "+name)
				d.edge(comp.id(), "---", str(obj(v), "containerPath"), node)
			}
		}
	}
}

// dockerSummary is what a component runs: its container's image, and the directory of
// sources an image copies from another one it builds first (the app's, build argument
// APP_SOURCE).
func (d *drawing) dockerSummary(c *component) []string {
	sources := map[string]string{} // image name -> its build context
	for _, r := range c.resources {
		if r.Type == "docker:index/image:Image" {
			sources[str(r.Inputs, "imageName")] = str(obj(r.Inputs["build"]), "context")
		}
	}
	var out []string
	for _, r := range c.resources {
		if r.Type != "docker:index/image:Image" {
			continue
		}
		build := obj(r.Inputs["build"])
		line := "image from " + str(build, "context")
		if t := str(build, "target"); t != "" {
			line += " (" + t + ")"
		}
		source, ok := sources[str(obj(build["args"]), "APP_SOURCE")]
		if ok {
			line += " and " + source
		}
		if !ok && isSource(c, str(r.Inputs, "imageName")) {
			continue // drawn as part of the image that copies it
		}
		out = append(out, line)
	}
	return out
}

// isSource reports whether another image of c copies image (build argument APP_SOURCE).
func isSource(c *component, image string) bool {
	for _, r := range c.resources {
		if r.Type == "docker:index/image:Image" && str(obj(obj(r.Inputs["build"])["args"]), "APP_SOURCE") == image {
			return true
		}
	}
	return false
}
