package main

import (
	"os"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/sudoku/infra/internal/mocks"
)

// runStack runs the program for stack with the configuration the engine would give it:
// Pulumi.yaml's defaults, then Pulumi.<stack>.yaml, then overrides ("key" or "ns:key").
func runStack(t *testing.T, stack string, overrides map[string]string) (*mocks.Monitor, error) {
	t.Helper()
	cfg, err := mocks.StackConfig(".", stack)
	if err != nil {
		t.Fatalf("loading the config of stack %q: %v", stack, err)
	}
	for k, v := range overrides {
		if !strings.Contains(k, ":") {
			k = "sudoku:" + k
		}
		cfg[k] = v
	}
	return mocks.Run("sudoku", stack, cfg, program)
}

func mustRun(t *testing.T, stack string, overrides map[string]string) *mocks.Monitor {
	t.Helper()
	m, err := runStack(t, stack, overrides)
	if err != nil {
		t.Fatalf("program failed for stack %q: %v", stack, err)
	}
	return m
}

func TestLocalStackGolden(t *testing.T) {
	m := mustRun(t, "local", nil)
	mocks.AssertGolden(t, "testdata/local.golden", mocks.Render(m))
}

var _ = os.Getwd
var _ = resource.PropertyKey("")
