// Package mocks runs the Pulumi program against the SDK's mock engine, in tests. It behaves
// as the engine does where it matters to the tests: a duplicate URN is an error, outputs the
// provider marks secret are secret, and every resource gets realistic outputs (IDs, ARNs,
// endpoints) for its type.
package mocks

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Resource is one registered resource, as the engine would have seen it.
type Resource struct {
	URN      string
	Type     string
	Name     string
	Parent   string // parent URN; "" for the stack's direct children
	Provider string // provider reference ("urn::id"); "" for the default provider
	Custom   bool
	ID       string // the provider's ID ("" for components)
	Inputs   resource.PropertyMap
	Outputs  resource.PropertyMap

	Protect                 bool
	RetainOnDelete          bool
	DeleteBeforeReplace     bool
	IgnoreChanges           []string
	ReplaceOnChanges        []string
	Dependencies            []string
	AdditionalSecretOutputs []string

	op string // the step the run took: "same", "create" or "update"
}

// Monitor is a pulumi.MockResourceMonitor that records what the program registers.
type Monitor struct {
	Project, Stack string

	mu        sync.Mutex
	resources map[string]*Resource
	order     []string
	opts      Options
}

// New returns a monitor for project and stack.
func New(project, stack string) *Monitor {
	return &Monitor{Project: project, Stack: stack, resources: map[string]*Resource{}}
}

// Run runs program against a fresh monitor with the given config (keys "project:key").
func Run(project, stack string, config map[string]string, program pulumi.RunFunc) (*Monitor, error) {
	m := New(project, stack)
	err := pulumi.RunErr(program, pulumi.WithMocks(project, stack, m), func(info *pulumi.RunInfo) {
		info.Config = config
	})
	return m, err
}

func (m *Monitor) urn(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(m.Stack), tokens.PackageName(m.Project), parentType, tokens.Type(typ), name))
}

// NewResource records a registration and answers with mock outputs for its type.
func (m *Monitor) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	rpc := args.RegisterRPC
	parent := ""
	r := &Resource{Type: args.TypeToken, Name: args.Name, Provider: args.Provider, Custom: args.Custom, Inputs: args.Inputs}
	if rpc != nil {
		parent = rpc.GetParent()
		r.Protect = rpc.GetProtect()
		r.RetainOnDelete = rpc.GetRetainOnDelete()
		r.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
		r.IgnoreChanges = rpc.GetIgnoreChanges()
		r.ReplaceOnChanges = rpc.GetReplaceOnChanges()
		r.Dependencies = rpc.GetDependencies()
		r.AdditionalSecretOutputs = rpc.GetAdditionalSecretOutputs()
	}
	r.Parent = parent
	r.URN = m.urn(parent, args.TypeToken, args.Name)

	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.resources[r.URN]; dup {
		// The engine refuses a second resource with the same type and name under the same
		// parent type; so do we.
		return "", nil, fmt.Errorf("duplicate resource URN %q; try giving it a unique name", r.URN)
	}
	var id string
	var outputs resource.PropertyMap
	if old, same := m.previous(r); same {
		id, outputs = old.ID, old.Outputs.Copy()
	} else {
		if r.op == "" {
			r.op = "create"
		}
		id, outputs = mockOutputs(r, m.seed)
		m.nextRevision(r, outputs)
		if err := m.pushed(r, outputs); err != nil {
			return "", nil, err
		}
	}
	for _, k := range r.AdditionalSecretOutputs {
		if v, ok := outputs[resource.PropertyKey(k)]; ok && !v.IsSecret() {
			outputs[resource.PropertyKey(k)] = resource.MakeSecret(v)
		}
	}
	r.Outputs = outputs
	if !args.Custom {
		id = ""
	}
	r.ID = id
	m.resources[r.URN] = r
	m.order = append(m.order, r.URN)
	return id, outputs, nil
}

// nextRevision gives a changed task definition the next revision, as ECS registers one.
func (m *Monitor) nextRevision(r *Resource, outputs resource.PropertyMap) {
	old, ok := m.opts.Prior[r.URN]
	if r.Type != "aws:ecs/taskDefinition:TaskDefinition" || !ok {
		return
	}
	revision := int(old.Outputs["revision"].NumberValue()) + 1
	family := r.Inputs["family"].StringValue()
	outputs["revision"] = resource.NewNumberProperty(float64(revision))
	outputs["arn"] = resource.NewStringProperty(arn("ecs", fmt.Sprintf("task-definition/%s:%d", family, revision)))
}

// pushed records an image push in the registry; a push the registry refuses fails the
// registration, as it fails `pulumi up`.
func (m *Monitor) pushed(r *Resource, outputs resource.PropertyMap) error {
	if r.Type != "docker:index/image:Image" {
		return nil
	}
	if v, ok := r.Inputs["skipPush"]; ok && v.IsBool() && v.BoolValue() {
		return nil
	}
	image := r.Inputs["imageName"].StringValue()
	_, digest, _ := strings.Cut(outputs["repoDigest"].StringValue(), "@")
	return m.opts.Registry.push(image, digest)
}

// Call answers the provider functions (invokes) the program uses.
func (m *Monitor) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	switch args.Token {
	case "aws:rds/getEngineVersion:getEngineVersion":
		return auroraEngineVersion(args.Args)
	case "aws:rds/getClusterSnapshot:getClusterSnapshot":
		return m.opts.clusterSnapshot(args.Args)
	}
	if out, ok := mockInvoke(args.Token, args.Args); ok {
		return out, nil
	}
	return nil, fmt.Errorf("mocks: no mock for invoke %s", args.Token)
}

// Resources returns every registered resource, sorted by URN (a stable order).
func (m *Monitor) Resources() []*Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Resource, 0, len(m.resources))
	for _, urn := range m.order {
		out = append(out, m.resources[urn])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URN < out[j].URN })
	return out
}

// OfType returns the resources with the given type token.
func (m *Monitor) OfType(typ string) []*Resource {
	var out []*Resource
	for _, r := range m.Resources() {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Named returns the resource with the given type and name, or nil.
func (m *Monitor) Named(typ, name string) *Resource {
	for _, r := range m.OfType(typ) {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// ParentOf returns r's parent resource, or nil when r is a child of the stack.
func (m *Monitor) ParentOf(r *Resource) *Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.resources[r.Parent]
}

// fakeHex is a stable, realistic-looking hex string derived from seed.
func fakeHex(seed string, n int) string {
	sum := sha256.Sum256([]byte(seed))
	h := hex.EncodeToString(sum[:])
	for len(h) < n {
		h += h
	}
	return h[:n]
}

// sanitize makes a name usable in fake identifiers.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, s)
}

// Key is a property name, for indexing Inputs and Outputs.
func Key(name string) resource.PropertyKey { return resource.PropertyKey(name) }

// DependsOn reports whether r waits for the resource named dep: through an input that
// comes from it, or an explicit dependsOn.
func (m *Monitor) DependsOn(r *Resource, dep string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, urn := range r.Dependencies {
		if d, ok := m.resources[urn]; ok && d.Name == dep {
			return true
		}
	}
	return false
}

// Needs reports whether r waits for the resource named dep, directly or through the
// resources it waits for: the engine creates r only after all of them.
func (m *Monitor) Needs(r *Resource, dep string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	queue := append([]string(nil), r.Dependencies...)
	for len(queue) > 0 {
		urn := queue[0]
		queue = queue[1:]
		d, ok := m.resources[urn]
		if !ok || seen[urn] {
			continue
		}
		if d.Name == dep {
			return true
		}
		seen[urn] = true
		queue = append(queue, d.Dependencies...)
	}
	return false
}

// Flatten renders a plain value (string, list, map, as Mappable gives) as one string, for
// "does it mention X" checks.
func Flatten(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = Flatten(e)
		}
		return strings.Join(parts, " ")
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + Flatten(t[k])
		}
		return strings.Join(parts, " ")
	default:
		return fmt.Sprint(t)
	}
}
