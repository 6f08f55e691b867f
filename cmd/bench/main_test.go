package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The bench builds for local stacks what scripts/local.sh has the language host build: the
// tag is main.go's, and the one local.sh puts in GOFLAGS.
func TestBenchBuildsWhatTheLocalCommandsBuild(t *testing.T) {
	for file, want := range map[string]string{
		"../../main.go":          `const localBuildTag = "` + localTag + `"`,
		"../../scripts/local.sh": `-tags=` + localTag + `"`,
	} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(src), want) {
			t.Errorf("%s lacks %s: the bench would time another build than the local commands run", file, want)
		}
	}
}

// timeBuild runs go build as the language host does, with the variant's tag, and fails when
// the build does.
func TestTimeBuildRunsTheLanguageHostsBuild(t *testing.T) {
	bin := t.TempDir()
	log := filepath.Join(bin, "args")
	fake := "#!/bin/sh\necho \"$@\" >>" + log + "\n[ -z \"$FAIL\" ]\n"
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, v := range variants {
		if _, err := timeBuild(nil, v, "OUT"); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(log)
	want := "build -o OUT -buildvcs=false -trimpath -ldflags -w -s -tags=sudoku_local\nbuild -o OUT -buildvcs=false -trimpath -ldflags -w -s\n"
	if string(got) != want {
		t.Errorf("go was run as\n%s\nwant\n%s", got, want)
	}
	if _, err := timeBuild([]string{"FAIL=1"}, variants[0], "OUT"); err == nil {
		t.Error("a failed build was timed")
	}
}

// The plugins of a build are the resource plugins its packages declare, each once.
func TestPluginsIn(t *testing.T) {
	root := t.TempDir()
	write := func(dir, content string) string {
		p := filepath.Join(root, dir)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if content != "" {
			if err := os.WriteFile(filepath.Join(p, "pulumi-plugin.json"), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	dirs := []string{
		write("aws", `{"resource": true, "name": "aws", "version": "6.83.4"}`),
		write("aws/ec2", `{"resource": true, "name": "aws", "version": "6.83.4"}`),
		write("docker", `{"resource": true, "name": "docker", "version": "4.11.2"}`),
		write("sdk", `{"resource": false, "name": "pulumi"}`),
		write("plain", ""),
	}
	got, err := pluginsIn(dirs)
	if err != nil || strings.Join(got, ", ") != "aws 6.83.4, docker 4.11.2" {
		t.Errorf("pluginsIn = %v, %v", got, err)
	}
	if _, err := pluginsIn([]string{write("broken", "{")}); err == nil {
		t.Error("a broken pulumi-plugin.json passed")
	}
}

// The overlay replaces main.go with a copy that differs, so the edited build compiles anew.
func TestEditOverlay(t *testing.T) {
	dir := t.TempDir()
	t.Chdir("../..")
	overlay, err := editOverlay(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(overlay)
	abs, _ := filepath.Abs("main.go")
	if !strings.Contains(string(data), `"Replace":{"`+abs+`":"`+filepath.Join(dir, "main.go")+`"}`) {
		t.Errorf("overlay %s", data)
	}
	orig, _ := os.ReadFile("main.go")
	edited, _ := os.ReadFile(filepath.Join(dir, "main.go"))
	if !strings.HasPrefix(string(edited), string(orig)) || len(edited) == len(orig) {
		t.Error("the edited main.go is not main.go with one more declaration")
	}
}

func TestReportGivesTheRatios(t *testing.T) {
	r := report{Machine: "a 2-CPU machine", Up: map[string]time.Duration{"make up, nothing to change": 8 * time.Second}}
	r.Builds[0] = buildResult{Cold: 120 * time.Second, Warm: 2 * time.Second, Edited: 3 * time.Second, Size: 31_500_000, Plugins: []string{"docker 4.11.2", "random 4.21.2"}}
	r.Builds[1] = buildResult{Cold: 300 * time.Second, Warm: 8 * time.Second, Edited: 10 * time.Second, Size: 104_300_000, Plugins: []string{"aws 6.83.4", "docker 4.11.2", "random 4.21.2"}}
	r.Tests = 21 * time.Second
	var b strings.Builder
	r.render(&b)
	for _, want := range []string{
		"On a 2-CPU machine.",
		"| cold (empty build cache) | 120.0 s | 300.0 s | 0.40 |",
		"| warm, nothing changed | 2.0 s | 8.0 s | 0.25 |",
		"| warm, after a change to main.go | 3.0 s | 10.0 s | 0.30 |",
		"| binary size | 31.5 MB | 104.3 MB | 0.30 |",
		"| provider plugins it can ask for | docker 4.11.2, random 4.21.2 | aws 6.83.4, docker 4.11.2, random 4.21.2 | |",
		"| go test -count=1 ./... (warm) | 21.0 s |",
		"| make up, nothing to change | 8.0 s |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, b.String())
		}
	}
	// What was not measured is left out, not shown as 0.
	var empty strings.Builder
	report{Machine: "m"}.render(&empty)
	if strings.Contains(empty.String(), "cold") || strings.Contains(empty.String(), "0.0 s") {
		t.Errorf("unmeasured rows shown:\n%s", empty.String())
	}
}

// -up runs the local commands on a stack of its own (STACK=bench): the port first, a first
// make up, make up and make preview with nothing to change, timed; the stack is destroyed and
// removed whatever happened.
func TestTimeUpRunsTheLocalCommandsAndCleansUp(t *testing.T) {
	bin, dir := t.TempDir(), t.TempDir()
	for _, tool := range []string{"docker", "pulumi"} {
		if err := os.WriteFile(filepath.Join(bin, tool), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	log := filepath.Join(dir, "calls")
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	fake := "#!/bin/sh\necho \"$STACK $*\" >>" + log + "\n[ \"$1 $FAIL_UP\" != \"up 1\" ]\n"
	if err := os.WriteFile(filepath.Join(dir, "scripts", "local.sh"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	old := repo
	repo = dir
	t.Cleanup(func() { repo = old })

	r := report{Up: map[string]time.Duration{}}
	if err := timeUp(&r); err != nil {
		t.Fatal(err)
	}
	calls, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
	want := []string{"bench pulumi config set httpPort ", "bench up", "bench up", "bench preview", "bench destroy", "bench pulumi stack rm --yes --non-interactive"}
	if len(lines) != len(want) {
		t.Fatalf("calls:\n%s", calls)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("call %d: %q, want %q", i+1, lines[i], w)
		}
	}
	if len(r.Up) != 3 {
		t.Errorf("timed %v", r.Up)
	}

	// A failed make up still destroys the stack.
	os.Remove(log)
	t.Setenv("FAIL_UP", "1")
	if err := timeUp(&report{Up: map[string]time.Duration{}}); err == nil || !strings.Contains(err.Error(), "first make up") {
		t.Errorf("a failed up: %v", err)
	}
	if calls, _ := os.ReadFile(log); !strings.Contains(string(calls), "bench destroy") {
		t.Errorf("a failed up left the stack:\n%s", calls)
	}
}
