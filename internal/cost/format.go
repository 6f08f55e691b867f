package cost

import (
	"fmt"
	"strings"
)

// money is a monthly amount, or "—" for a side where the resource does not exist.
func money(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("$%.2f", *v)
}

func change(l Line) string {
	old, new := 0.0, 0.0
	if l.Old != nil {
		old = *l.Old
	}
	if l.New != nil {
		new = *l.New
	}
	return delta(new - old)
}

func delta(d float64) string {
	switch {
	case d > 0.005:
		return fmt.Sprintf("+$%.2f", d)
	case d < -0.005:
		return fmt.Sprintf("-$%.2f", -d)
	}
	return "$0.00"
}

// Markdown renders the report for a pull-request comment.
func (r *Report) Markdown(title string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s: $%.2f a month (%s)\n\n", title, r.New, delta(r.New-r.Old))
	fmt.Fprintf(&b, "%s list prices of %s; usage from the assumptions below.\n\n", r.Table.Region, r.Table.Date)
	b.WriteString("| Resource | Type | What | Before | After | Change |\n|---|---|---|---:|---:|---:|\n")
	for _, l := range r.Lines {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", l.Name, shortType(l.Type), l.Detail, money(l.Old), money(l.New), change(l))
	}
	fmt.Fprintf(&b, "| **Total** | | | **$%.2f** | **$%.2f** | **%s** |\n", r.Old, r.New, delta(r.New-r.Old))
	fmt.Fprintf(&b, "\n%d resources cost nothing by themselves (security groups, roles, rules, ...).\n", r.Free)
	if len(r.Unpriced) > 0 {
		b.WriteString("\n**Not priced** (not counted in the total, never as free):\n\n")
		for _, u := range r.Unpriced {
			fmt.Fprintf(&b, "- `%s` (%s): %s\n", u.Name, u.Type, u.Why)
		}
	}
	if len(r.Used) > 0 {
		b.WriteString("\n<details><summary>Assumptions</summary>\n\n| Assumption | Value | |\n|---|---:|---|\n")
		for _, a := range r.Used {
			fmt.Fprintf(&b, "| `%s` | %g %s | %s |\n", a.Name, a.Value, a.Unit, a.Description)
		}
		b.WriteString("\n</details>\n")
	}
	return b.String()
}

// Text renders the report for a terminal.
func (r *Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Monthly estimate, %s list prices of %s (%s)\n\n", r.Table.Region, r.Table.Date, r.Table.Currency)
	fmt.Fprintf(&b, "%-34s %-36s %10s %10s %10s  %s\n", "RESOURCE", "TYPE", "BEFORE", "AFTER", "CHANGE", "WHAT")
	for _, l := range r.Lines {
		fmt.Fprintf(&b, "%-34s %-36s %10s %10s %10s  %s\n", l.Name, shortType(l.Type), money(l.Old), money(l.New), change(l), l.Detail)
	}
	fmt.Fprintf(&b, "%-34s %-36s %10s %10s %10s\n", "TOTAL", "", fmt.Sprintf("$%.2f", r.Old), fmt.Sprintf("$%.2f", r.New), delta(r.New-r.Old))
	fmt.Fprintf(&b, "\n%d resources cost nothing by themselves.\n", r.Free)
	if len(r.Unpriced) > 0 {
		b.WriteString("\nNOT PRICED (not in the total):\n")
		for _, u := range r.Unpriced {
			fmt.Fprintf(&b, "  %s (%s): %s\n", u.Name, u.Type, u.Why)
		}
	}
	if len(r.Used) > 0 {
		b.WriteString("\nASSUMPTIONS (change with -assume name=value):\n")
		for _, a := range r.Used {
			fmt.Fprintf(&b, "  %s = %g %s: %s\n", a.Name, a.Value, a.Unit, a.Description)
		}
	}
	return b.String()
}

// shortType is a type token without its module path: aws:ecs/service:Service is ecs:Service.
func shortType(typ string) string {
	parts := strings.Split(typ, ":")
	if len(parts) != 3 {
		return typ
	}
	module, _, _ := strings.Cut(parts[1], "/")
	return module + ":" + parts[2]
}
