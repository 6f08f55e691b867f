// Command sudoku is the Pulumi program for the sudoku web application's infrastructure:
// a local stack on Docker and a staging stack on AWS, chosen by the sudoku:target key.
package main

import (
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
