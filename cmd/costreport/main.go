// Command costreport estimates what a stack costs a month, and what a change costs, from
// `pulumi preview --json` and the price table in internal/cost/prices.json.
//
//	pulumi preview --stack staging --json --show-sames --show-replacement-steps > preview.json
//	go run ./cmd/costreport [-format text|markdown] [-assume name=value]... [-for 45m] preview.json   (or - for stdin)
//
// -for prices the stack for that long instead of a month, pro rata, as a throwaway stack
// (the end-to-end test's) is billed by the hour.
//
// Without --show-sames, the preview leaves out what the change keeps, and the totals are
// those of the changed resources only. Exit status: 0 with the report, 2 when the input is
// not a successful preview (as previewguard).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sudoku/infra/internal/cost"
	"github.com/sudoku/infra/internal/preview"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type assumptions []string

func (a *assumptions) String() string     { return strings.Join(*a, ",") }
func (a *assumptions) Set(v string) error { *a = append(*a, v); return nil }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("costreport", flag.ContinueOnError)
	flags.SetOutput(stderr)
	format := flags.String("format", "text", "output format: text or markdown")
	title := flags.String("title", "Cost", "the markdown report's heading")
	var assume assumptions
	flags.Var(&assume, "assume", "name=value: change a usage assumption (repeatable; the report lists them)")
	running := flags.Duration("for", 0, "also price the stack for this long, pro rata (a throwaway stack's run, such as 45m)")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: costreport [-format text|markdown] [-assume name=value]... [-for DURATION] PREVIEW.json|-")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() != 1 || (*format != "text" && *format != "markdown") || *running < 0 {
		flags.Usage()
		return 2
	}
	table, err := cost.DefaultTable()
	if err != nil {
		fmt.Fprintf(stderr, "costreport: %v\n", err)
		return 2
	}
	for _, a := range assume {
		if err := table.Assume(a); err != nil {
			fmt.Fprintf(stderr, "costreport: %v\n", err)
			return 2
		}
	}
	in, err := preview.Open(flags.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "costreport: %v\n", err)
		return 2
	}
	defer in.Close()
	p, err := preview.Read(in)
	if err != nil {
		fmt.Fprintf(stderr, "costreport: %v\n", err)
		if *format == "markdown" {
			fmt.Fprintf(stdout, "### :x: %s: could not read the preview\n\n%v\n", *title, err)
		}
		return 2
	}
	report := cost.Estimate(p, table)
	if *format == "markdown" {
		fmt.Fprint(stdout, report.Markdown(*title))
	} else {
		fmt.Fprint(stdout, report.Text())
	}
	if *running > 0 {
		fmt.Fprintf(stdout, "\nFor %s: $%.2f (the monthly total above, pro rata over %.0f hours a month).\n",
			running.Round(time.Minute), report.New*running.Hours()/table.HoursPerMonth, table.HoursPerMonth)
	}
	return 0
}
