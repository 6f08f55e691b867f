// Command diagram draws a stack's architecture as a Mermaid flowchart from
// `pulumi preview --json`: the components and their main resources, the network boundaries,
// the traffic paths from the security-group rules (AWS) or the container network and proxy
// routes (local), what the internet reaches, and where each secret lives and who reads it.
//
//	pulumi preview --stack staging --json --show-sames > preview.json
//	go run ./cmd/diagram [-markdown] preview.json        (or - for stdin)
//
// The diagrams of the README and docs/ come from it (make golden). Exit status: 0 with the diagram, 2 when
// the input is not a successful preview of the stack.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sudoku/infra/internal/diagram"
	"github.com/sudoku/infra/internal/preview"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("diagram", flag.ContinueOnError)
	flags.SetOutput(stderr)
	markdown := flags.Bool("markdown", false, "wrap the diagram in a ```mermaid block")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: diagram [-markdown] PREVIEW.json|-")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() != 1 {
		flags.Usage()
		return 2
	}
	in, err := preview.Open(flags.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "diagram: %v\n", err)
		return 2
	}
	defer in.Close()
	p, err := preview.Read(in)
	if err != nil {
		fmt.Fprintf(stderr, "diagram: %v\n", err)
		return 2
	}
	text, err := diagram.Render(p)
	if err != nil {
		fmt.Fprintf(stderr, "diagram: %v\n", err)
		return 2
	}
	if *markdown {
		text = "```mermaid\n" + text + "```\n"
	}
	fmt.Fprint(stdout, text)
	return 0
}
