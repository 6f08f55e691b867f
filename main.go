// Command sudoku is the Pulumi program for the sudoku web application's infrastructure:
// a local stack on Docker and a staging stack on AWS, chosen by the sudoku:target key.
package main

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() {
	pulumi.Run(program)
}

// program builds the stack and exports its outputs.
func program(ctx *pulumi.Context) error {
	outputs, err := build(ctx)
	if err != nil {
		return err
	}
	for name, value := range outputs {
		ctx.Export(name, value)
	}
	return nil
}

// localBuildTag is the build tag of a build for local stacks only: scripts/local.sh builds
// the program so (GOFLAGS=-tags=sudoku_local), and it then leaves out the AWS side and the
// pulumi-aws SDK, which take most of a cold build's time.
const localBuildTag = "sudoku_local"

// errBuiltForLocal is what a build for local stacks only answers a stack that targets aws,
// instead of anything it cannot create.
func errBuiltForLocal(ctx *pulumi.Context) error {
	return fmt.Errorf("%s:target is aws, but this build of the program is for local stacks only (built with -tags %s, "+
		"which scripts/local.sh sets in GOFLAGS): run pulumi for stack %s without that tag (unset GOFLAGS, or use "+
		"scripts/ci.sh), and the whole program is built", ctx.Project(), localBuildTag, ctx.Stack())
}

// build reads the whole configuration once, then composes the target's components. It
// returns the stack outputs.
func build(ctx *pulumi.Context) (pulumi.Map, error) {
	cfg, err := loadConfig(ctx)
	if err != nil {
		return nil, err
	}
	switch cfg.Target {
	case "aws":
		return deployAws(ctx, cfg)
	default:
		return deployLocal(ctx, cfg)
	}
}
