package mocks

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// State is what the engine keeps of a stack between updates: each resource's type, parent,
// dependencies, ID and outputs, by URN.
//
// A run given a prior State behaves as `pulumi up` does: a resource registered with the
// same type and inputs as in the state is a "same" step, answered with its old ID and
// outputs and no provider call; anything else is created or updated, and gets new outputs.
// So a generated password survives exactly as long as its state does, and a rebuilt image
// gets a new digest.
type State map[string]StateResource

// StateResource is one resource of a State.
type StateResource struct {
	Type, Parent string
	Dependencies []string
	ID           string
	Inputs       resource.PropertyMap
	Outputs      resource.PropertyMap
}

// Options set the world a run happens in.
type Options struct {
	// Prior is the stack's state before the run; nil for a new (or destroyed) stack.
	Prior State
	// Generation seeds what the run creates, as randomness does for real: two runs with
	// different generations generate different passwords and build images with different
	// digests. Runs with generation 0 are reproducible, for the golden files.
	Generation int
	// Registry is the image registry pushes go to; nil accepts every push.
	Registry *Registry
	// ClusterSnapshots are the DB cluster snapshots the account can see, by identifier (an
	// automated one's starts with rds:), with their engine ("aurora-mysql") and status
	// ("available").
	ClusterSnapshots map[string]ClusterSnapshot
}

// ClusterSnapshot is a DB cluster snapshot of the world a run sees.
type ClusterSnapshot struct {
	Engine, Status string
}

// RunWith runs program against a fresh monitor in the world opts describes.
func RunWith(project, stack string, config map[string]string, opts Options, program pulumi.RunFunc) (*Monitor, error) {
	m := New(project, stack)
	m.opts = opts
	err := pulumi.RunErr(program, pulumi.WithMocks(project, stack, m), func(info *pulumi.RunInfo) {
		info.Config = config
	})
	return m, err
}

// State is the stack's state after the run: what the run registered.
func (m *Monitor) State() State {
	s := State{}
	for _, r := range m.Resources() {
		s[r.URN] = StateResource{
			Type: r.Type, Parent: r.Parent, Dependencies: r.Dependencies,
			ID: r.ID, Inputs: r.Inputs, Outputs: r.Outputs,
		}
	}
	return s
}

// Op is the step the run took for r: "same", "create" or "update".
func (r *Resource) Op() string { return r.op }

// previous answers a registration from the prior state when its type and inputs are
// unchanged.
func (m *Monitor) previous(r *Resource) (StateResource, bool) {
	old, ok := m.opts.Prior[r.URN]
	if !ok {
		return StateResource{}, false
	}
	r.op = "update"
	if old.Type != r.Type || !resource.NewObjectProperty(old.Inputs).DeepEquals(resource.NewObjectProperty(r.Inputs)) {
		return StateResource{}, false
	}
	r.op = "same"
	return old, true
}

// seed is s, made distinct per generation (generation 0 keeps s, so golden files are stable).
func (m *Monitor) seed(s string) string {
	if m.opts.Generation == 0 {
		return s
	}
	return fmt.Sprintf("%s#%d", s, m.opts.Generation)
}

// Without is the state after a targeted destroy of the resources targets matches.
func (s State) Without(targets func(urn string) bool) State {
	out := State{}
	for urn, r := range s {
		if !targets(urn) {
			out[urn] = r
		}
	}
	return out
}

// Dependents are the resources that must go when urn goes: its children, and those that
// depend on it. The engine refuses a targeted destroy that would leave one of them behind
// ("Resource ... will be destroyed but was not specified in --target list",
// pkg/resource/deploy/step_generator.go, GenerateDeletes).
func (s State) Dependents(urn string) []string {
	var out []string
	for other, r := range s {
		if r.Parent == urn {
			out = append(out, other)
			continue
		}
		for _, d := range r.Dependencies {
			if d == urn {
				out = append(out, other)
				break
			}
		}
	}
	return out
}

// URNGlob matches URNs as `pulumi up|destroy --target` does with a pattern holding `*`:
// `**` matches anything, `*` anything but a colon, and the pattern spans the whole URN
// (getMatcher in pkg/resource/deploy/deployment.go, Pulumi v3.274.1).
func URNGlob(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch {
		case strings.HasPrefix(pattern[i:], "**"):
			b.WriteString(".*")
			i++
		case pattern[i] == '*':
			b.WriteString("[^:]*")
		default:
			b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// Registry is an image registry with immutable tags, as the stack's ECR repositories are:
// pushing a tag that already holds another image fails, as ECR does.
type Registry struct {
	mu   sync.Mutex
	tags map[string]string // repository:tag -> digest
}

// NewRegistry is an empty registry.
func NewRegistry() *Registry { return &Registry{tags: map[string]string{}} }

// push stores digest under image (repository:tag).
func (g *Registry) push(image, digest string) error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if old, ok := g.tags[image]; ok && old != digest {
		repo, tag := repoName(image), strings.TrimPrefix(image, repoName(image)+":")
		return fmt.Errorf("ImageTagAlreadyExistsException: The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the repository is immutable", tag, repo[strings.LastIndex(repo, "/")+1:])
	}
	g.tags[image] = digest
	return nil
}

// Tags are the registry's tags, for tests.
func (g *Registry) Tags() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, 0, len(g.tags))
	for t := range g.tags {
		out = append(out, t)
	}
	return out
}
