package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/sudoku/infra/internal/preview"
)

// What a refresh preview's JSON holds, read from the Pulumi CLI's source (v3.260; the
// workflows pin 3.274.1):
//
//   - `pulumi refresh --preview-only --json` renders the whole run as one PreviewDigest, as
//     `pulumi preview --json` does: display.ShowEvents calls ShowPreviewDigest for a dry run
//     unless PULUMI_ENABLE_STREAMING_JSON_PREVIEW is set (pkg/backend/display/display.go), and
//     a preview-only refresh is a dry run (Refresh in pkg/backend/diy/backend.go and
//     pkg/backend/httpstate/backend.go: ApplierOptions{DryRun: true}). PreviewDigest and
//     PreviewStep are in pkg/display/json.go; the states are apitype.ResourceV3
//     (sdk/go/common/apitype/core.go).
//   - Every resource of the state gets a refresh step (deploymentExecutor.refresh,
//     pkg/resource/deploy/deployment_executor.go), shown with op "refresh" when it starts. When
//     the provider's read differs from the state, ShowPreviewDigest swaps that step for the
//     step's result (pkg/backend/display/json.go, the ResourceOutputsEvent case): op "update"
//     with a detailedDiff, or op "delete" when the resource is gone. A resource that did not
//     change keeps op "refresh" (its result, "same", is only counted).
//   - In an "update", oldState is the state before the refresh and newState what the provider
//     read (RefreshStep.Old and New, pkg/resource/deploy/step.go). detailedDiff is the diff a
//     `pulumi up` would make from the cloud back to the state, inverted (RefreshStep.Apply:
//     diff.Invert()): "add" means the cloud has what the state lacks, "delete" that the cloud
//     lost what the state has, "update" a changed value; "-replace" kinds are changes that
//     `pulumi up` could only undo by replacing the resource. Its keys are property paths
//     (resource.PropertyPath). diffReasons are the top-level keys.
//   - That diff already honours the resource's ignoreChanges (diffResource gets
//     s.old.IgnoreChanges), and the states carry them (stateForJSONOutput and
//     stack.SerializeResource copy IgnoreChanges).
//   - Secret values are the string "[secret]" (MassageSecrets, pkg/backend/display/json.go).
//   - changeSummary counts each step's result: "same", "update", "delete"
//     (previewActions.OnResourceStepPost, pkg/engine/update.go, counts RefreshStep.ResultOp).
//     With PULUMI_ENABLE_LEGACY_REFRESH_DIFF the steps get no detailedDiff, so the digest
//     shows no "update" that the summary counts: Read refuses that mismatch.

// Report is what a refresh preview says about a stack.
type Report struct {
	Stack    string
	Checked  int        // resources the refresh read (its steps)
	Drifted  []Resource // resources with drift: changed in a way the program does not expect, or gone
	Expected []Resource // resources whose only changes the program leaves to AWS
}

// Resource is one resource whose cloud state differs from the stack's.
type Resource struct {
	URN, Type, Name string
	Gone            bool     // deleted in the cloud (or no longer readable)
	Changes         []Change // sorted by path
}

// Change is one property that differs.
type Change struct {
	Path     string
	Kind     string // detailedDiff kind: add, delete, update, and their -replace forms
	Old, New value  // in the stack's state, and in the cloud now
	Why      string // when expected: why it is not drift
}

// value is a property's value as a step shows it.
type value struct {
	v      any
	found  bool
	secret bool
}

// expectation is a property the program leaves to AWS once the resource exists: AWS
// changing it is not drift.
type expectation struct {
	Type, Name, Path, Why string
}

// handedToAWS are the properties the program gives up to AWS: every IgnoreChanges option in it
// (grep -rn IgnoreChanges components/; drift_test.go holds this list to the program's). The
// refresh already ignores what a resource's state lists in ignoreChanges; this holds even
// for a state or a provider that does not.
var handedToAWS = []expectation{
	{"aws:ecs/service:Service", "app-service", "desiredCount", "application auto scaling sets the app's task count (components/fargate.go: IgnoreChanges on desiredCount when the service scales)"},
}

// diffKinds are the kinds of plugin.DiffKind.String (sdk/go/common/resource/plugin/provider.go).
var diffKinds = map[string]bool{"add": true, "add-replace": true, "delete": true, "delete-replace": true, "update": true, "update-replace": true}

type document struct {
	Steps         []step         `json:"steps"`
	ChangeSummary map[string]int `json:"changeSummary"`
}

type step struct {
	Op           string                  `json:"op"`
	URN          string                  `json:"urn"`
	Old          *state                  `json:"oldState"`
	New          *state                  `json:"newState"`
	DiffReasons  []string                `json:"diffReasons"`
	DetailedDiff map[string]propertyDiff `json:"detailedDiff"`
}

type state struct {
	Inputs                  map[string]any `json:"inputs"`
	Outputs                 map[string]any `json:"outputs"`
	IgnoreChanges           []string       `json:"ignoreChanges"`
	AdditionalSecretOutputs []string       `json:"additionalSecretOutputs"`
}

type propertyDiff struct {
	Kind      string `json:"kind"`
	InputDiff bool   `json:"inputDiff"`
}

// Read reads the JSON of `pulumi refresh --preview-only --json`. It refuses, rather than
// passes, anything else: what internal/preview refuses (malformed or repeated JSON, a key
// given twice, a run that reports errors, an unknown op or URN, no root stack step), a
// preview of an update (its root stack step is not a refresh), steps a refresh does not take,
// an unknown diff kind, and a summary that counts changes the steps do not show.
func Read(r io.Reader) (*Report, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if _, err := preview.Read(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("not a refresh preview: %w", err)
	}
	var d document
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers as written, not as float64
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("not a refresh preview: %w", err)
	}
	rep := &Report{Checked: len(d.Steps)}
	counted := map[string]int{}
	for _, s := range d.Steps {
		urn := resource.URN(s.URN)
		if urn.QualifiedType() == resource.RootStackType {
			if s.Op != "refresh" {
				return nil, fmt.Errorf("not a refresh preview: the root stack's step is %q, and a refresh shows it as \"refresh\" (run pulumi refresh --preview-only --json, not pulumi preview)", s.Op)
			}
			rep.Stack = string(urn.Stack())
		}
		switch s.Op {
		case "refresh", "same":
			continue
		case "update", "delete":
			counted[s.Op]++
		default:
			return nil, fmt.Errorf("not a refresh preview: step %q on %s is not one a refresh takes (refresh, update, delete)", s.Op, s.URN)
		}
		drifted, expected, err := classify(s)
		if err != nil {
			return nil, err
		}
		if drifted.Gone || len(drifted.Changes) > 0 {
			rep.Drifted = append(rep.Drifted, drifted)
		}
		if len(expected.Changes) > 0 {
			rep.Expected = append(rep.Expected, expected)
		}
	}
	if d.ChangeSummary == nil {
		return nil, errors.New(`an incomplete refresh preview: no "changeSummary" (every finished run has one)`)
	}
	for _, op := range []string{"update", "delete"} {
		if d.ChangeSummary[op] != counted[op] {
			return nil, fmt.Errorf("the summary counts %d resources with the result %q, and the steps show %d: a refresh shows a change only with its detailed diff (pkg/backend/display/json.go), so the rest cannot be reported; is PULUMI_ENABLE_LEGACY_REFRESH_DIFF set?", d.ChangeSummary[op], op, counted[op])
		}
	}
	byURN := func(rs []Resource) {
		sort.Slice(rs, func(i, j int) bool { return rs[i].URN < rs[j].URN })
	}
	byURN(rep.Drifted)
	byURN(rep.Expected)
	return rep, nil
}

// classify splits the changes of s into drift and the changes the program leaves to AWS.
func classify(s step) (drifted, expected Resource, err error) {
	urn := resource.URN(s.URN)
	drifted = Resource{URN: s.URN, Type: string(urn.Type()), Name: urn.Name()}
	expected = drifted
	if s.Op == "delete" {
		drifted.Gone = true
		return drifted, expected, nil
	}
	all, err := changes(s)
	if err != nil {
		return drifted, expected, err
	}
	for _, c := range all {
		if c.Why == "" {
			drifted.Changes = append(drifted.Changes, c)
		} else {
			expected.Changes = append(expected.Changes, c)
		}
	}
	return drifted, expected, nil
}

// changes are the changed properties of an update step, from its detailedDiff (or, without
// one, its diffReasons), each with its values and, when the program expects it, why.
func changes(s step) ([]Change, error) {
	kinds := map[string]propertyDiff{}
	for path, d := range s.DetailedDiff {
		if !diffKinds[d.Kind] {
			return nil, fmt.Errorf("step %q on %s: the diff kind %q of %s is not one Pulumi writes (%s)", s.Op, s.URN, d.Kind, path, strings.Join(sortedKeys(diffKinds), ", "))
		}
		kinds[path] = d
	}
	if len(kinds) == 0 {
		for _, k := range s.DiffReasons {
			kinds[k] = propertyDiff{Kind: "update"}
		}
	}
	if len(kinds) == 0 {
		// An update without a word of what changed: drift all the same.
		kinds["(not shown)"] = propertyDiff{Kind: "update"}
	}
	urn := resource.URN(s.URN)
	var out []Change
	for path, d := range kinds {
		c := Change{Path: path, Kind: d.Kind}
		parsed, err := resource.ParsePropertyPath(path)
		if err != nil {
			parsed = nil // shown, but no value can be looked up
		}
		c.Old = lookup(s.Old, parsed, true)
		c.New = lookup(s.New, parsed, d.InputDiff)
		if c.Old.secret || c.New.secret || sensitive(parsed) || listedSecret(s, parsed) {
			c.Old.secret, c.New.secret = true, true
		}
		c.Why = expectedWhy(string(urn.Type()), urn.Name(), s, parsed)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// expectedWhy says why a change at path is not drift, or "" when it is.
func expectedWhy(typ, name string, s step, path resource.PropertyPath) string {
	if path == nil {
		return ""
	}
	for _, st := range []*state{s.Old, s.New} {
		if st == nil {
			continue
		}
		for _, ig := range st.IgnoreChanges {
			if p, err := resource.ParsePropertyPath(ig); err == nil && p.Contains(path) {
				return "the resource's ignoreChanges lists " + ig + ": `pulumi up` leaves it as it is"
			}
		}
	}
	for _, e := range handedToAWS {
		if e.Type != typ || e.Name != name {
			continue
		}
		if p, err := resource.ParsePropertyPath(e.Path); err == nil && p.Contains(path) {
			return e.Why
		}
	}
	return ""
}

// lookup finds path in st: in its inputs first (what the program gave, or the provider read
// back) or, for a diff against outputs, in its outputs first.
func lookup(st *state, path resource.PropertyPath, inputs bool) value {
	if st == nil || path == nil {
		return value{}
	}
	first, second := st.Inputs, st.Outputs
	if !inputs {
		first, second = st.Outputs, st.Inputs
	}
	if v := walk(first, path); v.found {
		return v
	}
	return walk(second, path)
}

// walk follows path through plain JSON values. A secret on the way makes the result secret.
func walk(props map[string]any, path resource.PropertyPath) value {
	if props == nil {
		return value{}
	}
	var cur any = props
	for _, key := range path {
		if isSecret(cur) {
			return value{found: true, secret: true}
		}
		switch k := key.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return value{}
			}
			if cur, ok = m[k]; !ok {
				return value{}
			}
		case int:
			a, ok := cur.([]any)
			if !ok || k < 0 || k >= len(a) {
				return value{}
			}
			cur = a[k]
		default:
			return value{}
		}
	}
	return value{v: cur, found: true, secret: containsSecret(cur)}
}

// secretMarker is how the JSON display writes a secret (MassageSecrets); a value still in the
// state's secret envelope ({resource.SigKey: resource.SecretSig, ...}) counts too.
const secretMarker = "[secret]"

func isSecret(v any) bool {
	switch v := v.(type) {
	case string:
		return v == secretMarker
	case map[string]any:
		return v[resource.SigKey] == resource.SecretSig
	}
	return false
}

func containsSecret(v any) bool {
	if isSecret(v) {
		return true
	}
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			if containsSecret(e) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if containsSecret(e) {
				return true
			}
		}
	}
	return false
}

// sensitiveName matches property names that hold credentials, whatever a provider marks
// secret: their values are never shown.
var sensitiveName = regexp.MustCompile(`(?i)(password|passphrase|token|private_?key|secret_?(string|binary|value|key)?$|credential)`)

func sensitive(path resource.PropertyPath) bool {
	for _, k := range path {
		if s, ok := k.(string); ok && sensitiveName.MatchString(s) {
			return true
		}
	}
	return false
}

// listedSecret reports whether path is under an output the resource marks secret
// (additionalSecretOutputs).
func listedSecret(s step, path resource.PropertyPath) bool {
	if len(path) == 0 {
		return false
	}
	for _, st := range []*state{s.Old, s.New} {
		if st == nil {
			continue
		}
		for _, k := range st.AdditionalSecretOutputs {
			if path[0] == k {
				return true
			}
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
