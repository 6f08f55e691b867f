// Command previewguard reads `pulumi preview --json` and lists every stateful resource
// (database, cache, registry, secret, key, volume) that the preview would replace or delete.
//
//	pulumi preview --json --stack staging > preview.json
//	go run ./cmd/previewguard [-format text|markdown] preview.json    (or - for stdin)
//
// Exit status: 0 when nothing stateful is replaced or deleted, 1 when something is (the
// findings are printed), 2 when the input is not a successful preview (never a pass).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sudoku/infra/internal/guard"
	"github.com/sudoku/infra/internal/preview"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("previewguard", flag.ContinueOnError)
	flags.SetOutput(stderr)
	format := flags.String("format", "text", "output format: text or markdown")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: previewguard [-format text|markdown] PREVIEW.json|-")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() != 1 || (*format != "text" && *format != "markdown") {
		flags.Usage()
		return 2
	}
	in, err := preview.Open(flags.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "previewguard: %v\n", err)
		return 2
	}
	defer in.Close()
	findings, err := guard.Check(in)
	if err != nil {
		fmt.Fprintf(stderr, "previewguard: %v\n", err)
		if *format == "markdown" {
			fmt.Fprintf(stdout, "### :x: Destructive-change guard: could not read the preview\n\n%v\n", err)
		}
		return 2
	}
	if *format == "markdown" {
		fmt.Fprint(stdout, guard.Markdown(findings))
	} else {
		fmt.Fprint(stdout, guard.Text(findings))
	}
	if len(findings) > 0 {
		return 1
	}
	return 0
}
