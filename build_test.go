package main

import (
	gobuild "go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sudoku/infra/internal/mocks"
)

// goList runs go list with args in this module and returns its output.
func goList(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// A local stack's build leaves out the AWS side: `go list` resolves the packages a build with
// the tag links, as go build would, without compiling anything. The whole program still has
// it, and the pulumi-aws SDK is its largest part (21 packages, most of a cold build).
func TestLocalBuildLeavesOutTheAWSSide(t *testing.T) {
	t.Parallel()
	local := goList(t, "-tags", localBuildTag, "-deps", ".")
	for _, pkg := range strings.Fields(local) {
		if strings.HasPrefix(pkg, "github.com/pulumi/pulumi-aws/") {
			t.Errorf("the build for local stacks (-tags %s) links %s", localBuildTag, pkg)
		}
	}
	for _, want := range []string{"github.com/pulumi/pulumi-docker/sdk/v4/go/docker", "github.com/pulumi/pulumi-random/sdk/v4/go/random"} {
		if !strings.Contains(local, want+"\n") {
			t.Errorf("the build for local stacks lacks %s", want)
		}
	}
	if full := goList(t, "-deps", "."); !strings.Contains(full, "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds\n") {
		t.Error("the whole program does not link the AWS side")
	}
}

// Built for local stacks, the program refuses a stack that targets aws before it creates
// anything: its deployAws is local_only.go's, which answers errBuiltForLocal.
func TestLocalBuildRefusesAnAWSStack(t *testing.T) {
	t.Parallel()
	// go/build applies the build constraints as go build does, in process.
	ctx := gobuild.Default
	ctx.BuildTags = []string{localBuildTag}
	pkg, err := ctx.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	files := pkg.GoFiles
	for _, f := range []string{"aws.go", "monitoring.go"} {
		if strings.Contains(" "+strings.Join(files, " ")+" ", " "+f+" ") {
			t.Errorf("the build for local stacks compiles %s", f)
		}
	}
	if !strings.Contains(" "+strings.Join(files, " ")+" ", " local_only.go ") {
		t.Errorf("the build for local stacks lacks local_only.go: %v", files)
	}
	src, err := os.ReadFile("local_only.go")
	if err != nil || !strings.Contains(string(src), "return nil, errBuiltForLocal(ctx)") {
		t.Errorf("local_only.go's deployAws does not answer errBuiltForLocal: %v", err)
	}
	m, err := mocks.Run("sudoku", "staging", nil, errBuiltForLocal)
	for _, want := range []string{"sudoku:target is aws", "for local stacks only", "-tags " + localBuildTag, "GOFLAGS", "stack staging"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q: %v", want, err)
		}
	}
	if n := len(m.Resources()); n != 0 {
		t.Errorf("%d resources registered before the refusal", n)
	}
}

// scripts/local.sh hands the Go language host's go build the tag, through GOFLAGS, and keeps
// the developer's own GOFLAGS; SUDOKU_FULL_BUILD=1 builds the whole program.
func TestLocalCommandsBuildForLocalStacksOnly(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env  []string
		want string
	}{
		{nil, "-tags=" + localBuildTag},
		{[]string{"GOFLAGS=-mod=mod"}, "-mod=mod -tags=" + localBuildTag},
		{[]string{"SUDOKU_FULL_BUILD=1"}, ""},
	} {
		dir := t.TempDir()
		out, err := localScript(t, "preview", map[string]string{
			"pulumi": `[ "$1" = preview ] && echo "$GOFLAGS" >` + filepath.Join(dir, "goflags") + `; exit 0`,
			"go":     "exit 0",
			"docker": dockerEngine,
		}, append([]string{"STACK=alice"}, c.env...)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", c.env, err, out)
		}
		got, _ := os.ReadFile(filepath.Join(dir, "goflags"))
		if strings.TrimSpace(string(got)) != c.want {
			t.Errorf("%v: pulumi preview ran with GOFLAGS %q, want %q", c.env, strings.TrimSpace(string(got)), c.want)
		}
	}
}

// Only the root package's test binary links the pulumi-aws SDK: linking it costs about 4
// CPU-seconds on 2 cores, and a warm go test ./... is mostly that link (docs/testing.md, Speed).
// A test file in components/, or a test elsewhere that imports the program's AWS side, would
// add a second such link to every run.
func TestOneTestBinaryLinksTheAWSSDK(t *testing.T) {
	t.Parallel()
	out := goList(t, "-test", "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{range .Deps}} {{.}}{{end}}{{"\n"}}{{end}}`, "./...")
	var binaries, withAWS []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasSuffix(fields[0], ".test") {
			continue // a command, not a test binary
		}
		binaries = append(binaries, fields[0])
		for _, dep := range fields[1:] {
			if strings.HasPrefix(dep, "github.com/pulumi/pulumi-aws/") {
				withAWS = append(withAWS, fields[0])
				break
			}
		}
	}
	if len(binaries) < 2 || len(withAWS) != 1 || withAWS[0] != "github.com/sudoku/infra.test" {
		t.Errorf("the test binaries that link pulumi-aws are %v (of %v); want only the root package's, github.com/sudoku/infra.test", withAWS, binaries)
	}
}
