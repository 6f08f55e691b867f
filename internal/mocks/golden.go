package mocks

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

var update = flag.Bool("update", false, "rewrite golden files (and the generated sections of the README and docs/) instead of comparing")

// Update reports whether the test run was asked to rewrite golden files.
func Update() bool { return *update }

// Render lists every registered resource as an indented tree (children under their parent,
// siblings sorted by type and name) with its options and inputs. Secrets show as [secret];
// the working directory shows as <repo>, so the text is the same on every machine.
func Render(m *Monitor) string {
	resources := m.Resources()
	children := map[string][]*Resource{}
	for _, r := range resources {
		children[r.Parent] = append(children[r.Parent], r)
	}
	for _, list := range children {
		sort.Slice(list, func(i, j int) bool {
			if list[i].Type != list[j].Type {
				return list[i].Type < list[j].Type
			}
			return list[i].Name < list[j].Name
		})
	}
	names := map[string]string{}
	for _, r := range resources {
		names[r.URN] = r.Name
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Resources of stack %q, as the program registers them (see docs/testing.md: Golden files).\n", m.Stack)
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		for _, r := range children[parent] {
			renderResource(&b, r, names, depth)
			walk(r.URN, depth+1)
		}
	}
	// Resources whose parent is the stack have an empty parent or the stack's URN.
	for parent := range children {
		if _, known := names[parent]; !known {
			walk(parent, 0)
		}
	}
	out := b.String()
	if wd, err := os.Getwd(); err == nil {
		out = strings.ReplaceAll(out, wd, "<repo>")
	}
	return out
}

func renderResource(b *strings.Builder, r *Resource, names map[string]string, depth int) {
	indent := strings.Repeat("  ", depth)
	fmt.Fprintf(b, "%s- %s %s\n", indent, r.Type, r.Name)
	indent += "    "
	var opts []string
	if r.Protect {
		opts = append(opts, "protect")
	}
	if r.RetainOnDelete {
		opts = append(opts, "retainOnDelete")
	}
	if r.DeleteBeforeReplace {
		opts = append(opts, "deleteBeforeReplace")
	}
	if len(r.IgnoreChanges) > 0 {
		opts = append(opts, "ignoreChanges="+strings.Join(sorted(r.IgnoreChanges), ","))
	}
	if len(r.ReplaceOnChanges) > 0 {
		opts = append(opts, "replaceOnChanges="+strings.Join(sorted(r.ReplaceOnChanges), ","))
	}
	if r.Provider != "" {
		opts = append(opts, "provider="+providerName(r.Provider))
	}
	if len(opts) > 0 {
		fmt.Fprintf(b, "%soptions: %s\n", indent, strings.Join(opts, " "))
	}
	var deps []string
	seen := map[string]bool{}
	for _, d := range r.Dependencies {
		if n, ok := names[d]; ok && d != r.Parent && !seen[n] {
			seen[n] = true
			deps = append(deps, n)
		}
	}
	if len(deps) > 0 {
		fmt.Fprintf(b, "%sdependsOn: %s\n", indent, strings.Join(sorted(deps), ", "))
	}
	if !r.Custom {
		return
	}
	for _, k := range r.Inputs.StableKeys() {
		if strings.HasPrefix(string(k), "__") {
			continue
		}
		renderValue(b, indent, string(k), r.Inputs[k])
	}
}

func providerName(ref string) string {
	urn, _, _ := strings.Cut(ref, "::"+lastField(ref))
	return resource.URN(urn).Name()
}

func lastField(ref string) string {
	i := strings.LastIndex(ref, "::")
	if i < 0 {
		return ""
	}
	return ref[i+2:]
}

func sorted(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}

// renderValue writes key: value, YAML-style; a list element has the key "-".
func renderValue(b *strings.Builder, indent, key string, v resource.PropertyValue) {
	label := key + ": "
	if key == "-" {
		label = "- "
	}
	scalar := func(s string) { fmt.Fprintf(b, "%s%s%s\n", indent, label, s) }
	switch {
	case v.IsSecret():
		scalar(redacted(v.SecretValue().Element))
	case v.IsComputed() || v.IsOutput() && !v.OutputValue().Known:
		scalar("[unknown]")
	case v.IsOutput():
		renderValue(b, indent, key, v.OutputValue().Element)
	case v.IsObject() && len(v.ObjectValue()) == 0:
		scalar("{}")
	case v.IsArray() && len(v.ArrayValue()) == 0:
		scalar("[]")
	case v.IsObject() || v.IsArray():
		fmt.Fprintf(b, "%s%s\n", indent, strings.TrimSuffix(label, " "))
		renderChildren(b, indent+"  ", v)
	case v.IsString():
		if j, ok := asJSON(v.StringValue()); ok {
			fmt.Fprintf(b, "%s%s(json)\n", indent, label)
			renderChildren(b, indent+"  ", j)
			return
		}
		scalar(strconv.Quote(v.StringValue()))
	case v.IsNull():
		scalar("null")
	case v.IsResourceReference():
		scalar("ref(" + v.ResourceReferenceValue().URN.Name() + ")")
	default:
		scalar(fmt.Sprintf("%v", v.V))
	}
}

// renderChildren writes an object's keys or an array's elements.
func renderChildren(b *strings.Builder, indent string, v resource.PropertyValue) {
	if v.IsArray() {
		for _, e := range v.ArrayValue() {
			renderValue(b, indent, "-", e)
		}
		return
	}
	obj := v.ObjectValue()
	for _, k := range obj.StableKeys() {
		renderValue(b, indent, string(k), obj[k])
	}
}

// envEntry matches "NAME=value", the form of container environment entries.
var envEntry = regexp.MustCompile(`^[A-Z][A-Z0-9_]*=`)

// redacted shows a secret without its value; for an environment entry it keeps the name,
// so that a reviewer sees which variable holds a secret.
func redacted(v resource.PropertyValue) string {
	if v.IsString() {
		if name := envEntry.FindString(v.StringValue()); name != "" {
			return strconv.Quote(name + "[secret]")
		}
	}
	return "[secret]"
}

// asJSON parses policy documents, task definitions and dashboards held as JSON strings, so
// that a change to them shows as a readable diff.
func asJSON(s string) (resource.PropertyValue, bool) {
	t := strings.TrimSpace(s)
	if len(t) < 2 || (t[0] != '{' && t[0] != '[') {
		return resource.PropertyValue{}, false
	}
	var v any
	if err := json.Unmarshal([]byte(t), &v); err != nil {
		return resource.PropertyValue{}, false
	}
	return resource.NewPropertyValue(v), true
}

// AssertGolden compares got with the golden file at path, or rewrites it with -update.
func AssertGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file %s is missing; create it with: go test . -run Golden -update", path)
	}
	if string(want) != got {
		t.Errorf("golden file %s is stale: the program now registers something else.\n"+
			"Look at the diff below; if the change is intended, regenerate with: make golden\n%s",
			path, lineDiff(string(want), got))
	}
}

// lineDiff is a short line-based diff: lines only in want (-) and only in got (+), in order.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	// Longest common subsequence; the files are a few thousand lines at most.
	n, m := len(w), len(g)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if w[i] == g[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	shown := 0
	i, j := 0, 0
	for (i < n || j < m) && shown < 80 {
		switch {
		case i < n && j < m && w[i] == g[j]:
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&b, "+ %s\n", g[j])
			j++
			shown++
		default:
			fmt.Fprintf(&b, "- %s\n", w[i])
			i++
			shown++
		}
	}
	if shown == 80 {
		b.WriteString("… (diff cut at 80 lines)\n")
	}
	return b.String()
}
