package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Markdown is the report for a job summary or an issue: a heading that says whether the stack
// drifted, each drifted resource with its changed properties (secrets as [secret], values
// longer than width shortened), then the changes that are not drift, folded.
func (r *Report) Markdown(width int) string {
	var b strings.Builder
	stack := r.Stack
	if stack == "" {
		stack = "(unnamed)"
	}
	if len(r.Drifted) == 0 {
		fmt.Fprintf(&b, "### :white_check_mark: No drift in stack %s\n\n", stack)
		fmt.Fprintf(&b, "The refresh preview read %s; each matches the stack's state", plural(r.Checked, "resource"))
		if len(r.Expected) > 0 {
			b.WriteString(", but for the changes the program leaves to AWS (below)")
		}
		b.WriteString(".\n")
	} else {
		fmt.Fprintf(&b, "### :warning: Drift in stack %s: %s of %d differ from the stack's state\n\n",
			stack, plural(len(r.Drifted), "resource"), r.Checked)
		b.WriteString("Found by `pulumi refresh --preview-only`, which changed nothing. Values are the stack's state (as the last `pulumi up` or refresh left it) and the cloud's now. To keep a cloud's value, change the code to produce it; to put the code's values back, run `pulumi up --refresh` (docs/drift-detection.md: Responding to drift).\n")
		for _, res := range r.Drifted {
			writeResource(&b, res, width)
		}
	}
	if len(r.Expected) > 0 {
		fmt.Fprintf(&b, "\n<details><summary>Not drift: %s the program leaves to AWS</summary>\n\n", plural(countChanges(r.Expected), "change"))
		b.WriteString("| Resource | Property | Stack state | Cloud now | Why it is not drift |\n|---|---|---|---|---|\n")
		for _, res := range r.Expected {
			for _, c := range res.Changes {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", code(res.Name), code(c.Path), show(c.Old, width), show(c.New, width), cell(c.Why))
			}
		}
		b.WriteString("\n</details>\n")
	}
	return b.String()
}

func writeResource(b *strings.Builder, res Resource, width int) {
	fmt.Fprintf(b, "\n#### %s (%s)\n\n%s\n\n", code(res.Name), code(res.Type), code(res.URN))
	if res.Gone {
		b.WriteString("**Deleted in the cloud**, or no longer readable: `pulumi refresh` would drop it from the state, `pulumi up --refresh` would create it again.\n")
		return
	}
	b.WriteString("| Property | Change | Stack state | Cloud now |\n|---|---|---|---|\n")
	for _, c := range res.Changes {
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", code(c.Path), kindText(c.Kind), show(c.Old, width), show(c.New, width))
	}
}

// kindText says what a detailedDiff kind of a refresh means (the diff is inverted: from the
// state to the cloud).
func kindText(kind string) string {
	base, replace := strings.CutSuffix(kind, "-replace")
	text := map[string]string{"add": "added in the cloud", "delete": "removed in the cloud", "update": "changed"}[base]
	if replace {
		text += "; `pulumi up` would replace the resource to undo it"
	}
	return text
}

// show renders a value for a table cell: [secret] for a secret, (none) when the step has no
// value there, otherwise its JSON, shortened to width characters.
func show(v value, width int) string {
	switch {
	case v.secret:
		return code(secretMarker)
	case !v.found:
		return "(none)"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v.v); err != nil {
		return "(not shown)"
	}
	return code(shorten(strings.TrimSpace(buf.String()), width))
}

// shorten cuts s to width characters, the last an ellipsis, so a policy document or a
// container definition does not swamp the table.
func shorten(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	runes := []rune(s)
	return string(runes[:width-1]) + "…"
}

// code is s as inline code in a table cell: pipes escaped (GitHub's tables split on them even
// in code), and a longer fence when s holds a backtick.
func code(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	if strings.Contains(s, "`") {
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}

// cell is plain text for a table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func countChanges(rs []Resource) int {
	n := 0
	for _, r := range rs {
		n += len(r.Changes)
	}
	return n
}
