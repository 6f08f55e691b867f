// Command bench measures the loops a developer waits on, in one run, on this machine: the
// program's build as Pulumi's Go language host makes it, for a local stack (-tags
// sudoku_local, as scripts/local.sh builds it) against the whole program (as the AWS stacks
// build it), cold (an empty build cache, as on a fresh machine) and warm (nothing changed,
// and after a change to main.go); the binaries' sizes and the provider plugins each build can
// ask for; a warm `go test -count=1 ./...`; and, with -up, `make up` and `make preview` with
// nothing to change on a real local stack. It prints a Markdown report with the ratios.
//
//	go run ./cmd/bench [-cold=false] [-tests=false] [-up]      (make bench)
//
// It is a benchmark, not a test: it asserts nothing, and its numbers are this machine's.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// localTag is the build tag of the program for local stacks (main.go's localBuildTag; a
// test holds the two, and scripts/local.sh's GOFLAGS, to the same).
const localTag = "sudoku_local"

// languageHostFlags are what pulumi-language-go passes go build, without debugging
// (sdk/go/pulumi-language-go/main.go, compileProgram: "build", "-buildvcs=false", "-o",
// outfile, then "-trimpath", "-ldflags", "-w -s"), in the program's directory.
var languageHostFlags = []string{"-buildvcs=false", "-trimpath", "-ldflags", "-w -s"}

// variant is one way the program is built.
type variant struct {
	Name string
	Tags string // "" for the whole program
}

var variants = []variant{{"for local stacks (-tags " + localTag + ")", localTag}, {"whole program", ""}}

// buildResult is what the bench measured of one variant; a zero duration was not measured.
type buildResult struct {
	Cold, Warm, Edited time.Duration
	Size               int64
	Plugins            []string // "name version"
}

type report struct {
	Machine string
	Builds  [2]buildResult // as variants
	Tests   time.Duration
	Up      map[string]time.Duration // phase → time
	Notes   []string
}

func main() {
	cold := flag.Bool("cold", true, "build each variant with an empty build cache as well (minutes: the whole program takes about 5 on 2 cores)")
	tests := flag.Bool("tests", true, "time a warm go test -count=1 ./...")
	up := flag.Bool("up", false, "time make up and make preview with nothing to change, on a local stack of its own (needs Docker and the Pulumi CLI; creates and destroys stack "+upStack+")")
	flag.Parse()
	r := report{Machine: machine(), Up: map[string]time.Duration{}}
	err := run(&r, *cold, *tests, *up)
	// What was measured before a failure is still worth the minutes it took.
	r.render(os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(r *report, cold, tests, up bool) error {
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run it in the repository's root (make bench)")
	}
	// Downloads are not the build: fetch every module first.
	if err := command(io.Discard, nil, "go", "mod", "download"); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "sudoku-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// Everything runs on a copy of the working tree, so that editing it meanwhile changes
	// nothing of what is measured.
	if repo, err = snapshot(filepath.Join(work, "repo")); err != nil {
		return err
	}
	// A change to main.go, through an overlay: the package recompiles and the program links
	// again, and the working tree is left alone.
	overlay, err := editOverlay(work)
	if err != nil {
		return err
	}
	for i, v := range variants {
		b := &r.Builds[i]
		var env []string
		if cold {
			cache := filepath.Join(work, "cache-"+strconv.Itoa(i))
			env = []string{"GOCACHE=" + cache}
			fmt.Fprintf(os.Stderr, "bench: building %s with an empty build cache...\n", v.Name)
			if b.Cold, err = timeBuild(env, v, filepath.Join(work, "cold-"+strconv.Itoa(i))); err != nil {
				return err
			}
		} else {
			// Warm from here on, whatever the cache held before.
			if _, err = timeBuild(nil, v, filepath.Join(work, "prime-"+strconv.Itoa(i))); err != nil {
				return err
			}
		}
		out := filepath.Join(work, "warm-"+strconv.Itoa(i))
		if b.Warm, err = timeBuild(env, v, out); err != nil {
			return err
		}
		if b.Edited, err = timeBuild(env, v, filepath.Join(work, "edited-"+strconv.Itoa(i)), "-overlay="+overlay); err != nil {
			return err
		}
		info, err := os.Stat(out)
		if err != nil {
			return err
		}
		b.Size = info.Size()
		if b.Plugins, err = plugins(v); err != nil {
			return err
		}
	}
	if tests {
		fmt.Fprintln(os.Stderr, "bench: go test -count=1 ./..., once to warm the cache, then timed...")
		var out strings.Builder
		if err := command(&out, nil, "go", "test", "-count=1", "./..."); err != nil {
			return fmt.Errorf("the tests fail; fix them before timing them: %w\n%s", err, out.String())
		}
		start := time.Now()
		if err := command(io.Discard, nil, "go", "test", "-count=1", "./..."); err != nil {
			return err
		}
		r.Tests = time.Since(start)
	}
	if up {
		return timeUp(r)
	}
	r.Notes = append(r.Notes, "make up and make preview were not timed: run make bench ARGS=-up on a machine with Docker and the Pulumi CLI (it creates and destroys stack "+upStack+").")
	return nil
}

// repo is the directory the bench's commands run in: a snapshot of the working tree.
var repo = "."

// snapshot copies the files git tracks, and the new ones it does not ignore, into dir.
func snapshot(dir string) (string, error) {
	var list strings.Builder
	if err := command(&list, nil, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"); err != nil {
		return "", err
	}
	for _, f := range strings.Split(strings.TrimRight(list.String(), "\x00"), "\x00") {
		info, err := os.Lstat(filepath.Join(repo, f))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted, not yet committed
		}
		if err != nil {
			return "", err
		}
		if !info.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			return "", err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, info.Mode().Perm()); err != nil {
			return "", err
		}
	}
	// What the tests use that git ignores, installed here (npm ci --prefix tools/mermaid),
	// is there too, so that the snapshot's tests are this checkout's.
	const mermaid = "tools/mermaid/node_modules"
	if abs, err := filepath.Abs(filepath.Join(repo, mermaid)); err == nil {
		if _, err := os.Stat(abs); err == nil {
			if err := os.Symlink(abs, filepath.Join(dir, mermaid)); err != nil {
				return "", err
			}
		}
	}
	return dir, nil
}

// timeBuild builds v as the language host does, into out, and says how long it took.
func timeBuild(env []string, v variant, out string, extra ...string) (time.Duration, error) {
	args := append([]string{"build", "-o", out}, languageHostFlags...)
	if v.Tags != "" {
		args = append(args, "-tags="+v.Tags)
	}
	args = append(args, extra...)
	start := time.Now()
	err := command(io.Discard, env, "go", args...)
	return time.Since(start), err
}

// editOverlay writes a go build -overlay file that replaces main.go with itself and one more
// declaration, and returns its path.
func editOverlay(dir string) (string, error) {
	src, err := os.ReadFile(filepath.Join(repo, "main.go"))
	if err != nil {
		return "", err
	}
	edited := filepath.Join(dir, "main.go")
	if err := os.WriteFile(edited, append(src, "\nvar benchEdit = 1\n"...), 0o644); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(filepath.Join(repo, "main.go"))
	if err != nil {
		return "", err
	}
	data, err := json.Marshal(map[string]map[string]string{"Replace": {abs: edited}})
	if err != nil {
		return "", err
	}
	overlay := filepath.Join(dir, "overlay.json")
	return overlay, os.WriteFile(overlay, data, 0o644)
}

// plugins are the resource plugins that the packages of v's build declare (a
// pulumi-plugin.json with "resource": true beside a provider SDK's package), which is what
// a program built so can ask the engine for.
func plugins(v variant) ([]string, error) {
	args := []string{"list", "-deps", "-f", "{{.Dir}}"}
	if v.Tags != "" {
		args = append(args, "-tags="+v.Tags)
	}
	var out strings.Builder
	if err := command(&out, nil, "go", append(args, ".")...); err != nil {
		return nil, err
	}
	return pluginsIn(strings.Fields(out.String()))
}

func pluginsIn(dirs []string) ([]string, error) {
	seen := map[string]bool{}
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, "pulumi-plugin.json"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var p struct {
			Resource bool
			Name     string
			Version  string
		}
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		if p.Resource {
			seen[p.Name+" "+p.Version] = true
		}
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// upStack is the local stack that -up creates and destroys.
const upStack = "bench"

// timeUp times the local commands on a stack of their own: a first make up (images and
// containers created), then make up and make preview with nothing to change; the stack is
// destroyed afterwards, whatever happened.
func timeUp(r *report) error {
	for _, tool := range []string{"docker", "pulumi"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("-up needs %s: %w", tool, err)
		}
	}
	env := []string{"STACK=" + upStack}
	local := func(args ...string) error {
		return command(io.Discard, env, "scripts/local.sh", args...)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	if err := local("pulumi", "config", "set", "httpPort", port); err != nil {
		return err
	}
	defer func() {
		if err := local("destroy"); err != nil {
			fmt.Fprintf(os.Stderr, "bench: destroying stack %s failed (%v); run STACK=%s make destroy\n", upStack, err, upStack)
		}
		_ = local("pulumi", "stack", "rm", "--yes", "--non-interactive")
	}()
	for _, phase := range []struct{ name, action string }{
		{"first make up", "up"},
		{"make up, nothing to change", "up"},
		{"make preview, nothing to change", "preview"},
	} {
		fmt.Fprintf(os.Stderr, "bench: %s...\n", phase.name)
		start := time.Now()
		if err := local(phase.action); err != nil {
			return fmt.Errorf("%s: %w", phase.name, err)
		}
		r.Up[phase.name] = time.Since(start)
	}
	return nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// command runs name with args and the environment plus env, its output to out; a failure
// carries the command's error output.
func command(out io.Writer, env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return nil
}

// machine describes where the bench ran.
func machine() string {
	cpu := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	} else if out, err := exec.Command("sysctl", "-n", "machdep.cpu.brand_string").Output(); err == nil {
		cpu = strings.TrimSpace(string(out))
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(data), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GB", float64(kb)/(1<<20))
		}
	}
	s := fmt.Sprintf("%s/%s, %d CPUs%s, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), mem, runtime.Version())
	if cpu != "" {
		s = cpu + ", " + s
	}
	return s
}

func (r report) render(w io.Writer) {
	fmt.Fprintf(w, "# make bench\n\nOn %s.\n\n", r.Machine)
	local, full := r.Builds[0], r.Builds[1]
	fmt.Fprintf(w, "| The program's build, as Pulumi's Go language host makes it | %s | %s | ratio |\n|---|---|---|---|\n", variants[0].Name, variants[1].Name)
	row := func(name string, a, b time.Duration) {
		if a == 0 || b == 0 {
			return
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.2f |\n", name, seconds(a), seconds(b), a.Seconds()/b.Seconds())
	}
	row("cold (empty build cache)", local.Cold, full.Cold)
	row("warm, nothing changed", local.Warm, full.Warm)
	row("warm, after a change to main.go", local.Edited, full.Edited)
	if local.Size > 0 && full.Size > 0 {
		fmt.Fprintf(w, "| binary size | %.1f MB | %.1f MB | %.2f |\n", float64(local.Size)/1e6, float64(full.Size)/1e6, float64(local.Size)/float64(full.Size))
	}
	fmt.Fprintf(w, "| provider plugins it can ask for | %s | %s | |\n", strings.Join(local.Plugins, ", "), strings.Join(full.Plugins, ", "))
	if r.Tests > 0 || len(r.Up) > 0 {
		fmt.Fprintf(w, "\n| Loop | time |\n|---|---|\n")
	}
	if r.Tests > 0 {
		fmt.Fprintf(w, "| go test -count=1 ./... (warm) | %s |\n", seconds(r.Tests))
	}
	for _, phase := range []string{"first make up", "make up, nothing to change", "make preview, nothing to change"} {
		if d, ok := r.Up[phase]; ok {
			fmt.Fprintf(w, "| %s | %s |\n", phase, seconds(d))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
}
