// Command driftreport reads the JSON of a refresh preview and reports, in Markdown, what in the
// cloud differs from the stack's state: drift (docs/drift-detection.md).
//
//	pulumi refresh --preview-only --json --stack staging > refresh.json
//	go run ./cmd/driftreport [-stack NAME] [-width N] refresh.json    (or - for stdin)
//	go run ./cmd/driftreport -expected                                 (what is not drift)
//
// Exit status: 0 when nothing drifted (a report that says so, listing any expected changes),
// 2 when something drifted (the report), 1 when the input is not a complete, successful
// refresh preview or the command line is wrong (what is wrong goes to standard error; never a
// pass).
//
// Built, not `go run`, where the status matters: go run turns every non-zero exit into 1.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sudoku/infra/internal/preview"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("driftreport", flag.ContinueOnError)
	flags.SetOutput(stderr)
	stack := flags.String("stack", "", "the stack's name in the report (default: the stack of the preview's URNs)")
	width := flags.Int("width", 80, "longest value shown, in characters; longer ones are shortened")
	expected := flags.Bool("expected", false, "list the changes the program leaves to AWS (never drift), and exit")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: driftreport [-stack NAME] [-width N] REFRESH.json|-")
		fmt.Fprintln(stderr, "       driftreport -expected")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 1
	}
	if *expected {
		if flags.NArg() != 0 {
			flags.Usage()
			return 1
		}
		for _, e := range handedToAWS {
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", e.Type, e.Name, e.Path, e.Why)
		}
		return 0
	}
	if flags.NArg() != 1 {
		fmt.Fprintln(stderr, "driftreport: name one refresh preview file (or - for standard input)")
		flags.Usage()
		return 1
	}
	if *width < 10 {
		fmt.Fprintf(stderr, "driftreport: -width %d is too narrow to show a value; give 10 or more\n", *width)
		return 1
	}
	in, err := preview.Open(flags.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "driftreport: %v\n", err)
		return 1
	}
	defer in.Close()
	r, err := Read(in)
	if err != nil {
		fmt.Fprintf(stderr, "driftreport: %v\n", err)
		return 1
	}
	if *stack != "" {
		r.Stack = *stack
	}
	fmt.Fprint(stdout, r.Markdown(*width))
	if len(r.Drifted) > 0 {
		return 2
	}
	return 0
}
