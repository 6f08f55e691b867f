// Package diagram draws a stack's architecture as a Mermaid flowchart, from the resources a
// preview shows (pulumi preview --json, or the mock run the golden files come from): the
// six components as nodes with their main resources, the network boundaries, the traffic
// paths with ports and protocols (from the security-group rules on AWS, the container
// network and the proxy's routes locally), what the internet reaches, and where each secret
// lives and who reads it. Nothing in it is drawn by hand, so it cannot drift from the code.
package diagram

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sudoku/infra/internal/preview"
)

const componentPrefix = "sudoku:components:"

// graph is the new state of every resource of a preview, and the components they belong to.
type graph struct {
	states     []*preview.State
	byURN      map[string]*preview.State
	components map[string]*component // by URN
}

type component struct {
	kind, name string
	resources  []*preview.State
}

// id is the component's Mermaid node ID.
func (c *component) id() string { return c.name }

func newGraph(p *preview.Preview) *graph {
	g := &graph{byURN: map[string]*preview.State{}, components: map[string]*component{}}
	for _, s := range p.Steps {
		if s.New == nil || s.Op == "delete" || s.Op == "delete-replaced" || g.byURN[s.URN] != nil {
			continue
		}
		st := *s.New
		st.URN = s.URN
		if st.Type == "" {
			st.Type = s.Type()
		}
		g.states = append(g.states, &st)
		g.byURN[s.URN] = &st
		if kind, ok := strings.CutPrefix(st.Type, componentPrefix); ok {
			g.components[s.URN] = &component{kind: kind, name: s.Name()}
		}
	}
	for _, st := range g.states {
		if c := g.componentOf(st); c != nil && !strings.HasPrefix(st.Type, componentPrefix) {
			c.resources = append(c.resources, st)
		}
	}
	return g
}

// componentOf is the component a resource belongs to: its nearest component ancestor.
func (g *graph) componentOf(st *preview.State) *component {
	for p := st.Parent; p != ""; {
		if c := g.components[p]; c != nil {
			return c
		}
		parent := g.byURN[p]
		if parent == nil {
			return nil
		}
		p = parent.Parent
	}
	return nil
}

func (g *graph) ofType(typ string) []*preview.State {
	var out []*preview.State
	for _, st := range g.states {
		if st.Type == typ {
			out = append(out, st)
		}
	}
	return out
}

// sortedComponents lists the components in the order a reader meets them: from the entry
// point inwards.
func (g *graph) sortedComponents() []*component {
	order := map[string]int{"LoadBalancer": 0, "PhpService": 1, "MercureHub": 2, "Database": 3, "Cache": 4, "Network": 5}
	var out []*component
	for _, c := range g.components {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if order[out[i].kind] != order[out[j].kind] {
			return order[out[i].kind] < order[out[j].kind]
		}
		return out[i].name < out[j].name
	})
	return out
}

// Render draws the preview's stack; it says so when the preview holds no component.
func Render(p *preview.Preview) (string, error) {
	g := newGraph(p)
	if len(g.components) == 0 {
		return "", fmt.Errorf("the preview holds none of the stack's components (sudoku:components:*)")
	}
	d := &drawing{g: g, edges: map[string]bool{}}
	if len(g.ofType("aws:ec2/vpc:Vpc")) > 0 {
		d.aws()
	} else {
		d.docker()
	}
	return d.String(), nil
}

// drawing collects a flowchart's lines.
type drawing struct {
	g     *graph
	body  []string
	edges map[string]bool
	order []string
}

func (d *drawing) line(format string, args ...any) {
	d.body = append(d.body, fmt.Sprintf(format, args...))
}

// edge adds an edge once; edges print after the nodes, sorted, so the text is stable.
func (d *drawing) edge(from, arrow, label, to string) {
	e := fmt.Sprintf("  %s %s|%q| %s", from, arrow, label, to)
	if label == "" {
		e = fmt.Sprintf("  %s %s %s", from, arrow, to)
	}
	if !d.edges[e] {
		d.edges[e] = true
		d.order = append(d.order, e)
	}
}

func (d *drawing) String() string {
	sort.Strings(d.order)
	return "flowchart LR\n" + strings.Join(d.body, "\n") + "\n" + strings.Join(d.order, "\n") + "\n"
}

// node writes a component's node: a cylinder for what holds data, a box otherwise.
func (d *drawing) node(indent string, c *component, summary []string) {
	label := strings.Join(append([]string{c.kind + " " + c.name}, summary...), "<br/>")
	if c.kind == "Database" || c.kind == "Cache" {
		d.line("%s%s[(%q)]", indent, c.id(), label)
		return
	}
	d.line("%s%s[%q]", indent, c.id(), label)
}

func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func num(m map[string]any, key string) float64 {
	f, _ := m[key].(float64)
	return f
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func strs(v any) []string {
	var out []string
	for _, e := range list(v) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// count is "n × what", or what alone for one.
func count(n int, what string) string {
	if n == 1 {
		return what
	}
	return fmt.Sprintf("%d × %s", n, what)
}
