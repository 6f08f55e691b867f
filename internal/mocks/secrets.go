package mocks

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/internals"
)

// Awaited is an output's resolved value and whether it is secret.
type Awaited struct {
	Value  any
	Secret bool
}

// Await resolves o inside a running program.
func Await(ctx *pulumi.Context, o pulumi.Output) (Awaited, error) {
	r, err := internals.UnsafeAwaitOutput(ctx.Context(), o)
	if err != nil {
		return Awaited{}, err
	}
	// Typed maps and lists (map[string]string, []string) become map[string]any and []any.
	var plain any
	if b, err := json.Marshal(r.Value); err == nil && json.Unmarshal(b, &plain) == nil {
		r.Value = plain
	}
	return Awaited{Value: r.Value, Secret: r.Secret}, nil
}

// AwaitAll resolves every value of a map of outputs (stack outputs, say).
func AwaitAll(ctx *pulumi.Context, outputs pulumi.Map) (map[string]Awaited, error) {
	got := map[string]Awaited{}
	for k, v := range outputs {
		a, err := Await(ctx, pulumi.ToOutput(v))
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", k, err)
		}
		got[k] = a
	}
	return got, nil
}

// GeneratedSecrets are the values of every random password the program generated.
func (m *Monitor) GeneratedSecrets() []string {
	var out []string
	for _, r := range m.Resources() {
		if r.Type == "random:index/randomPassword:RandomPassword" {
			v := r.Outputs["result"]
			if v.IsSecret() {
				v = v.SecretValue().Element
			}
			out = append(out, v.StringValue())
		}
	}
	return out
}

// PlaintextLeaks lists every resource input that holds a generated secret without being
// marked secret: where a password would show in a preview or sit unencrypted in state.
func (m *Monitor) PlaintextLeaks() []string {
	secrets := m.GeneratedSecrets()
	var leaks []string
	for _, r := range m.Resources() {
		for k, v := range r.Inputs {
			for _, path := range plaintextPaths(string(k), v, secrets) {
				leaks = append(leaks, fmt.Sprintf("%s %s: %s", r.Type, r.Name, path))
			}
		}
	}
	return leaks
}

// ContainsSecret reports whether s holds one of secrets.
func ContainsSecret(s string, secrets []string) bool {
	for _, secret := range secrets {
		if secret != "" && strings.Contains(s, secret) {
			return true
		}
	}
	return false
}

func plaintextPaths(path string, v resource.PropertyValue, secrets []string) []string {
	switch {
	case v.IsSecret():
		return nil
	case v.IsOutput():
		if v.OutputValue().Secret {
			return nil
		}
		return plaintextPaths(path, v.OutputValue().Element, secrets)
	case v.IsString():
		if ContainsSecret(v.StringValue(), secrets) {
			return []string{path}
		}
	case v.IsArray():
		var out []string
		for i, e := range v.ArrayValue() {
			out = append(out, plaintextPaths(fmt.Sprintf("%s[%d]", path, i), e, secrets)...)
		}
		return out
	case v.IsObject():
		var out []string
		for k, e := range v.ObjectValue() {
			out = append(out, plaintextPaths(path+"."+string(k), e, secrets)...)
		}
		return out
	}
	return nil
}
