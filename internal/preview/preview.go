// Package preview reads `pulumi preview --json`, refusing anything that is not a complete,
// successful preview. The destructive-change guard and the cost report read it.
package preview

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Ops are the step operations of `pulumi preview --json` (apitype.OpType in the Pulumi SDK),
// with what each does to the resource that exists before the step: "" keeps it, "delete"
// and "replace" lose it. An op missing here makes the preview unreadable.
var Ops = map[string]string{
	"same":                   "",
	"create":                 "",
	"update":                 "",
	"read":                   "",
	"refresh":                "",
	"import":                 "",
	"discard":                "",
	"discard-replaced":       "",
	"delete":                 "delete",
	"replace":                "replace",
	"create-replacement":     "replace",
	"delete-replaced":        "replace",
	"read-replacement":       "replace",
	"import-replacement":     "replace",
	"remove-pending-replace": "replace",
}

// Open is the input a command names: the file name, or standard input for "-".
func Open(name string, stdin io.Reader) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(stdin), nil
	}
	return os.Open(name)
}

// StackType is the type of the root stack resource: every successful preview has its step.
const StackType = "pulumi:pulumi:Stack"

// Preview is a complete, successful preview.
type Preview struct {
	Steps []Step
}

// Step is one step of a preview: the resource's state before it (Old) and after (New), as
// far as the preview shows them.
type Step struct {
	Op             string   `json:"op"`
	URN            string   `json:"urn"`
	ReplaceReasons []string `json:"replaceReasons"`
	Old            *State   `json:"oldState"`
	New            *State   `json:"newState"`
}

// State is a resource as a step shows it.
type State struct {
	URN     string         `json:"urn"`
	ID      string         `json:"id"`
	Type    string         `json:"type"`
	Parent  string         `json:"parent"`
	Protect bool           `json:"protect"`
	Inputs  map[string]any `json:"inputs"`
	Outputs map[string]any `json:"outputs"`
}

// Type is the step's resource type, from its URN.
func (s Step) Type() string { return string(resource.URN(s.URN).Type()) }

// Name is the step's resource name, from its URN.
func (s Step) Name() string { return resource.URN(s.URN).Name() }

// ErrFailed is returned for a preview that reports errors: it cannot be judged.
var ErrFailed = errors.New("the preview failed")

type document struct {
	Steps       *[]Step `json:"steps"`
	Diagnostics []struct {
		Message  string `json:"message"`
		Severity string `json:"severity"`
	} `json:"diagnostics"`
}

// Read reads `pulumi preview --json`. Anything that is not a complete, successful preview is
// an error: malformed or repeated JSON, a key given twice, a preview that reports errors, an
// op this package does not know, an invalid URN, and a preview without the root stack's step.
func Read(r io.Reader) (*Preview, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if err := strictJSON(data); err != nil {
		return nil, fmt.Errorf("not JSON from `pulumi preview --json`: %w", err)
	}
	var d document
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("not JSON from `pulumi preview --json`: %w", err)
	}
	var failures []string
	for _, diag := range d.Diagnostics {
		if diag.Severity == "error" {
			failures = append(failures, strings.TrimSpace(diag.Message))
		}
	}
	if len(failures) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrFailed, strings.Join(failures, "; "))
	}
	if d.Steps == nil {
		return nil, errors.New(`not a preview: the JSON has no "steps" (run pulumi preview --json)`)
	}
	sawStack := false
	for _, s := range *d.Steps {
		if _, known := Ops[s.Op]; !known {
			return nil, fmt.Errorf("step %q on %s: an operation this tool does not know, so it cannot judge the preview", s.Op, s.URN)
		}
		if _, err := resource.ParseURN(s.URN); err != nil {
			return nil, fmt.Errorf("step %q has no valid URN %q: %w", s.Op, s.URN, err)
		}
		sawStack = sawStack || s.Type() == StackType
	}
	if !sawStack {
		return nil, fmt.Errorf("an incomplete preview: no step for the root stack (%s); every successful preview has one", StackType)
	}
	return &Preview{Steps: *d.Steps}, nil
}

// strictJSON accepts exactly one JSON document in which no object has a key twice:
// encoding/json keeps the last of two "steps" keys, and a last, empty one would hide the
// first's replacements.
func strictJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := noDuplicateKeys(dec); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("more than one document")
	}
	return nil
}

// noDuplicateKeys reads one value from dec, failing on an object with a repeated key.
func noDuplicateKeys(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		keys := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key := k.(string)
			if keys[key] {
				return fmt.Errorf("the key %q appears twice in one object", key)
			}
			keys[key] = true
			if err := noDuplicateKeys(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	case json.Delim('['):
		for dec.More() {
			if err := noDuplicateKeys(dec); err != nil {
				return err
			}
		}
		_, err = dec.Token()
	}
	return err
}
