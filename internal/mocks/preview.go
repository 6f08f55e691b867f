package mocks

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/sudoku/infra/internal/preview"
)

// PreviewJSON renders the run as `pulumi preview --json --show-sames` would show it, against
// the state before it (nil for a new stack): each resource with its step (create, same or
// update as the run took it; delete for what the run no longer registers), its old and new
// state (type, parent, inputs, secrets as "[secret]"), and the root stack's step.
func (m *Monitor) PreviewJSON(before State) []byte {
	stackURN := fmt.Sprintf("urn:pulumi:%s::%s::pulumi:pulumi:Stack::%s-%s", m.Stack, m.Project, m.Project, m.Stack)
	stackOp := "create"
	if before != nil {
		stackOp = "same"
	}
	steps := []preview.Step{{Op: stackOp, URN: stackURN}}
	seen := map[string]bool{}
	for _, r := range m.Resources() {
		seen[r.URN] = true
		s := preview.Step{Op: r.Op(), URN: r.URN, New: previewState(r.URN, r.ID, r.Type, r.Parent, r.Inputs, r.Outputs)}
		if old, ok := before[r.URN]; ok {
			s.Old = previewState(r.URN, old.ID, old.Type, old.Parent, old.Inputs, old.Outputs)
		}
		steps = append(steps, s)
	}
	var gone []string
	for urn := range before {
		if !seen[urn] {
			gone = append(gone, urn)
		}
	}
	sort.Strings(gone)
	for _, urn := range gone {
		old := before[urn]
		steps = append(steps, preview.Step{Op: "delete", URN: urn, Old: previewState(urn, old.ID, old.Type, old.Parent, old.Inputs, old.Outputs)})
	}
	data, err := json.MarshalIndent(map[string]any{"steps": steps}, "", "  ")
	if err != nil {
		panic(err)
	}
	return data
}

// previewState is a resource as a preview step shows it.
func previewState(urn, id, typ, parent string, inputs, outputs resource.PropertyMap) *preview.State {
	return &preview.State{URN: urn, ID: id, Type: typ, Parent: parent, Inputs: plainMap(inputs), Outputs: plainMap(outputs)}
}

func plainMap(m resource.PropertyMap) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if pv := plainJSON(v); pv != nil {
			out[string(k)] = pv
		}
	}
	return out
}

// plainJSON is v as JSON values, secrets as "[secret]" as the preview shows them.
func plainJSON(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return "[secret]"
	case v.IsComputed() || v.IsOutput() && !v.OutputValue().Known:
		return nil
	case v.IsOutput():
		return plainJSON(v.OutputValue().Element)
	case v.IsArray():
		out := []any{}
		for _, e := range v.ArrayValue() {
			out = append(out, plainJSON(e))
		}
		return out
	case v.IsObject():
		return plainMap(v.ObjectValue())
	case v.IsNull():
		return nil
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	}
	return v.V
}
