package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sudoku/infra/components"
	"github.com/sudoku/infra/internal/mocks"
)

// The images the stacks build, read as Docker reads their Dockerfiles.

// dockerInstruction is one instruction of a Dockerfile, continuation lines joined and
// heredoc bodies left out.
type dockerInstruction struct {
	cmd  string // upper case: FROM, RUN, USER, VOLUME, ...
	args string
	line int
}

// dockerStage is one FROM ... [AS name] and its instructions.
type dockerStage struct {
	name, base   string
	instructions []dockerInstruction
}

var heredocStart = regexp.MustCompile(`<<-?['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?`)

// parseDockerfile splits a Dockerfile into its stages; ARGs before the first FROM are
// returned by name with their defaults.
func parseDockerfile(t *testing.T, path string) ([]dockerStage, map[string]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []dockerStage
	globalArgs := map[string]string{}
	var pending strings.Builder
	pendingLine, heredoc := 0, ""
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; scanner.Scan(); n++ {
		line := scanner.Text()
		if heredoc != "" {
			if strings.TrimSpace(line) == heredoc {
				heredoc = ""
			}
			continue
		}
		trimmed := strings.TrimSpace(line)
		if pending.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if pending.Len() == 0 {
			pendingLine = n
		} else if strings.HasPrefix(trimmed, "#") {
			continue // a comment inside a continued instruction
		}
		if strings.HasSuffix(trimmed, `\`) {
			pending.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		pending.WriteString(trimmed)
		text := pending.String()
		pending.Reset()
		if m := heredocStart.FindStringSubmatch(text); m != nil {
			heredoc = m[1]
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := dockerInstruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: pendingLine}
		switch {
		case in.cmd == "FROM":
			fields := strings.Fields(in.args)
			st := dockerStage{base: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.name = fields[2]
			}
			stages = append(stages, st)
		case len(stages) == 0 && in.cmd == "ARG":
			name, def, _ := strings.Cut(in.args, "=")
			globalArgs[name] = def
		case len(stages) > 0:
			stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, in)
		}
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	if heredoc != "" {
		t.Fatalf("%s: heredoc %s is not closed", path, heredoc)
	}
	return stages, globalArgs
}

// stageChain is target's instructions, preceded by those of the stages it is built FROM
// (target "" is the last stage, as docker build takes it).
func stageChain(stages []dockerStage, target string) ([]dockerInstruction, error) {
	i := len(stages) - 1
	if target != "" {
		i = slices.IndexFunc(stages, func(s dockerStage) bool { return s.name == target })
		if i < 0 {
			return nil, fmt.Errorf("no stage %q", target)
		}
	}
	chain := stages[i].instructions
	for base := stages[i].base; ; {
		j := slices.IndexFunc(stages, func(s dockerStage) bool { return s.name == base })
		if j < 0 {
			return chain, nil
		}
		chain = append(append([]dockerInstruction(nil), stages[j].instructions...), chain...)
		base = stages[j].base
	}
}

var shellSeparators = map[string]bool{"&&": true, "||": true, ";": true, "|": true}

// volumeOwner is who a RUN's chown gives a path to, and whether everything below it too.
type volumeOwner struct {
	user      string
	index     int
	recursive bool
}

// volumeProblems says which of paths an image stage would hand ECS as an empty,
// root-owned directory: each must be a VOLUME of the stage, owned (chown, before the
// VOLUME) by the stage's USER, with everything below it (chown -R): base images create
// directories of their own there as root (caddy's image makes /data/caddy and
// /config/caddy, where the hub writes its instance ID and autosaved config).
func volumeProblems(chain []dockerInstruction, paths []string) []string {
	user := "root"
	volumes := map[string]int{} // path -> index of its VOLUME
	owners := map[string]volumeOwner{}
	for i, in := range chain {
		switch in.cmd {
		case "USER":
			user, _, _ = strings.Cut(in.args, ":")
		case "VOLUME":
			var list []string
			if err := json.Unmarshal([]byte(in.args), &list); err != nil {
				list = strings.Fields(in.args)
			}
			for _, p := range list {
				volumes[p] = i
			}
		case "RUN":
			words := strings.Fields(strings.NewReplacer(";", " ; ").Replace(in.args))
			for w := 0; w < len(words); w++ {
				if words[w] != "chown" {
					continue
				}
				w++
				recursive := false
				for ; w < len(words) && strings.HasPrefix(words[w], "-"); w++ {
					recursive = recursive || words[w] == "-R" || words[w] == "--recursive"
				}
				if w >= len(words) {
					break
				}
				owner, _, _ := strings.Cut(words[w], ":")
				for w++; w < len(words) && !shellSeparators[words[w]]; w++ {
					owners[strings.TrimSuffix(words[w], "/")] = volumeOwner{owner, i, recursive}
				}
			}
		}
	}
	var problems []string
	for _, p := range paths {
		v, declared := volumes[p]
		o, owned := owners[p]
		switch {
		case !declared:
			problems = append(problems, fmt.Sprintf("%s is not a VOLUME of the image: Fargate mounts it empty and owned by root, so %s cannot write there", p, user))
		case !owned:
			problems = append(problems, fmt.Sprintf("%s has no chown to %s before its VOLUME: the volume is owned by whoever owns the image's directory", p, user))
		case o.user != user:
			problems = append(problems, fmt.Sprintf("%s is owned by %s, but the image runs as %s", p, o.user, user))
		case o.index > v:
			problems = append(problems, fmt.Sprintf("%s is chowned after its VOLUME, which the classic builder discards", p))
		case !o.recursive:
			problems = append(problems, fmt.Sprintf("%s is chowned without -R: what the base image created below it stays root's, and %s cannot write there", p, user))
		}
	}
	return problems
}

// Every path a staging task definition mounts (the root filesystem is read-only) is a
// VOLUME of the image stage that task runs, owned by that stage's user: otherwise Fargate
// mounts an empty, root-owned directory and the task cannot start.
func TestTaskMountsAreVolumesOfTheirImages(t *testing.T) {
	t.Parallel()
	run := staging(t, nil)
	images := map[string]*mocks.Resource{}
	for _, img := range run.OfType("docker:index/image:Image") {
		images[img.Outputs["repoDigest"].StringValue()] = img
	}
	checked := 0
	for _, td := range run.OfType("aws:ecs/taskDefinition:TaskDefinition") {
		for _, c := range containers(t, td) {
			img := images[c.Image]
			if img == nil {
				t.Errorf("%s: container %s runs %s, which the stack does not build", td.Name, c.Name, c.Image)
				continue
			}
			build := img.Inputs["build"].ObjectValue()
			dockerfile := build["dockerfile"].StringValue()
			target := ""
			if v, ok := build["target"]; ok {
				target = v.StringValue()
			}
			stages, _ := parseDockerfile(t, dockerfile)
			chain, err := stageChain(stages, target)
			if err != nil {
				t.Fatalf("%s: %v", dockerfile, err)
			}
			var paths []string
			for _, m := range c.MountPoints {
				paths = append(paths, m.ContainerPath)
			}
			if c.ReadonlyRootFilesystem && len(paths) == 0 {
				t.Errorf("%s: a read-only root filesystem and no writable path", td.Name)
			}
			for _, p := range volumeProblems(chain, paths) {
				t.Errorf("%s (stage %q of %s): %s", td.Name, target, dockerfile, p)
			}
			checked += len(paths)
		}
	}
	if checked < 4 {
		t.Errorf("checked %d mounted paths; want the app's /tmp and var/, and the hub's /data and /config", checked)
	}
}

// The check above fails for each way an image can get a mount wrong.
func TestVolumeProblems(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		dockerfile string
		want       string
	}{
		"ok":              {"FROM x\nRUN chown -R app:app /tmp /data\nVOLUME [\"/tmp\", \"/data\"]\nUSER app\n", ""},
		"not declared":    {"FROM x\nRUN chown -R app:app /tmp /data\nVOLUME /tmp\nUSER app\n", "/data is not a VOLUME"},
		"not recursive":   {"FROM x\nRUN chown app:app /tmp /data\nVOLUME /tmp /data\nUSER app\n", "/tmp is chowned without -R"},
		"root owned":      {"FROM x\nVOLUME /tmp /data\nUSER app\n", "/tmp has no chown to app"},
		"wrong owner":     {"FROM x\nRUN chown -R www:www /tmp /data\nVOLUME /tmp /data\nUSER app\n", "/tmp is owned by www, but the image runs as app"},
		"chown too late":  {"FROM x\nVOLUME /tmp /data\nRUN chown app /tmp /data\nUSER app\n", "/tmp is chowned after its VOLUME"},
		"inherited stage": {"FROM x AS base\nRUN chown --recursive app:app /tmp /data && true\nVOLUME /tmp /data\nFROM base AS prod\nUSER app\n", ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			path := writeTemp(t, "Dockerfile", c.dockerfile)
			stages, _ := parseDockerfile(t, path)
			chain, err := stageChain(stages, "")
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(volumeProblems(chain, []string{"/tmp", "/data"}), "\n")
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Errorf("problems %q, want %q", got, c.want)
			}
		})
	}
}

// baseImages are the images the Dockerfiles may build FROM, each on a line that still
// receives fixes:
//   - mysql 8.4 is MySQL's LTS line; 8.1 was an innovation release, without fixes since
//     8.2 shipped (October 2023), and the official image no longer builds it.
//   - nginx's stable lines have an even minor; 1.30 is current (1.27, mainline, ended in
//     June 2025).
//   - Mercure's security policy (SECURITY.md) supports 0.24 and later.
//   - redis 7 (7.4) still receives security releases.
//   - php: the version comes from the PHP_VERSION build argument, one of PhpVersions.
var baseImages = map[string]func(tag string) bool{
	"mysql": func(tag string) bool { return tag == "8.4" },
	"nginxinc/nginx-unprivileged": func(tag string) bool {
		m := regexp.MustCompile(`^1\.([0-9]+)-alpine$`).FindStringSubmatch(tag)
		return m != nil && atoi(m[1]) >= 30 && atoi(m[1])%2 == 0
	},
	"dunglas/mercure": func(tag string) bool {
		m := regexp.MustCompile(`^v0\.([0-9]+)(\.[0-9]+)?$`).FindStringSubmatch(tag)
		return m != nil && atoi(m[1]) >= 24
	},
	"redis": func(tag string) bool { return tag == "7-alpine" },
	"php":   func(tag string) bool { return tag == "${PHP_VERSION}-fpm-bookworm" },
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func TestBaseImagesReceiveFixes(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("docker/*/Dockerfile")
	if err != nil || len(files) < 5 {
		t.Fatalf("Dockerfiles: %v %v", files, err)
	}
	for _, f := range files {
		stages, args := parseDockerfile(t, f)
		names := map[string]bool{}
		for _, s := range stages {
			names[s.name] = true
			if names[s.base] || s.base == "${APP_SOURCE}" {
				continue // another stage of this file, or the image of the app's source the program builds
			}
			image, tag, _ := strings.Cut(s.base, ":")
			ok, known := baseImages[image]
			switch {
			case !known:
				t.Errorf("%s: FROM %s, an image without a support policy here (add it to baseImages)", f, s.base)
			case !ok(tag):
				t.Errorf("%s: FROM %s is a line that no longer receives fixes", f, s.base)
			}
			if image == "php" && args["PHP_VERSION"] != components.PhpVersions[0] {
				t.Errorf("%s: PHP_VERSION defaults to %q, the program to %q", f, args["PHP_VERSION"], components.PhpVersions[0])
			}
		}
	}
}

// The tests run the hub built from tools/mercure; it must be the release the image runs.
func TestToolsMercureIsTheImagesRelease(t *testing.T) {
	t.Parallel()
	mod, err := os.ReadFile("tools/mercure/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^require github.com/dunglas/mercure/caddy (v\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("tools/mercure/go.mod does not require github.com/dunglas/mercure/caddy")
	}
	stages, _ := parseDockerfile(t, "docker/mercure/Dockerfile")
	_, tag, _ := strings.Cut(stages[0].base, ":")
	if version := string(m[1]); version != tag && !strings.HasPrefix(version, tag+".") {
		t.Errorf("docker/mercure runs %s, but the tests run Mercure %s (tools/mercure)", tag, version)
	}
}

// copyArgs splits a COPY's arguments into its flags (name -> value) and its paths, the
// destination last.
func copyArgs(args string) (map[string]string, []string) {
	flags := map[string]string{}
	var paths []string
	for _, f := range strings.Fields(args) {
		if name, value, ok := strings.Cut(strings.TrimPrefix(f, "--"), "="); ok && strings.HasPrefix(f, "--") {
			flags[name] = value
		} else {
			paths = append(paths, f)
		}
	}
	return flags, paths
}

// contextCopies maps each path a Dockerfile's COPY instructions write from the build context
// (not --from another stage or image) to the context file they copy there.
func contextCopies(t *testing.T, dockerfile string) map[string]string {
	t.Helper()
	stages, _ := parseDockerfile(t, dockerfile)
	copies := map[string]string{}
	for _, s := range stages {
		for _, in := range s.instructions {
			if in.cmd != "COPY" {
				continue
			}
			if flags, paths := copyArgs(in.args); flags["from"] == "" && len(paths) == 2 {
				copies[paths[1]] = paths[0]
			}
		}
	}
	return copies
}

// sourceCopyProblems checks how a Dockerfile takes the app's files from its source stage
// (FROM ${APP_SOURCE} AS source): one stage copies the stage's root to a directory and then
// removes what pulumi-docker added to the source's context from it, and every other stage
// takes the files from that stage, never from source itself.
func sourceCopyProblems(stages []dockerStage, source string) []string {
	var problems []string
	cleaned := ""
	for _, s := range stages {
		for i, in := range s.instructions {
			if in.cmd != "COPY" {
				continue
			}
			flags, paths := copyArgs(in.args)
			if flags["from"] != source {
				continue
			}
			if cleaned != "" {
				problems = append(problems, fmt.Sprintf("line %d: a second copy from %s; take the files from stage %s", in.line, source, cleaned))
				continue
			}
			dest := strings.TrimSuffix(paths[len(paths)-1], "/")
			removed := false
			for _, next := range s.instructions[i+1:] {
				if next.cmd == "RUN" && strings.Contains(next.args, "rm ") &&
					strings.Contains(next.args, dest+"/.dockerfile.*") && strings.Contains(next.args, dest+"/.dockerignore") {
					removed = true
				}
			}
			if !removed {
				problems = append(problems, fmt.Sprintf("line %d: the copy of %s is not followed by a RUN rm of %s/.dockerfile.* and %s/.dockerignore", in.line, source, dest, dest))
			}
			cleaned = s.name
		}
	}
	if cleaned == "" {
		problems = append(problems, "no stage copies the app's files from "+source)
	}
	return problems
}

// frontendFlags are the instruction flags the Dockerfile frontend built into Docker 20.10
// knows, of those these Dockerfiles use: each was built with Debian 12's docker.io 20.10.24
// (BuildKit, no syntax line), where COPY --exclude is an "Unknown flag", a heredoc an
// "unknown instruction", and a "# syntax" line pulls a frontend image (which BuildKit 0.13,
// Docker 26, then fails to run on pulumi-docker's uploaded context: "failed to load cache
// key ... context not found").
var frontendFlags = map[string][]string{
	"COPY":        {"from", "chown", "chmod"},
	"FROM":        {"platform"},
	"HEALTHCHECK": {"interval", "timeout", "start-period", "retries"},
}

// Every Dockerfile builds on the oldest engine docs/local-development.md promises (Docker 20.10), with the
// frontend built into it: no parser directive that pulls another frontend, no heredoc, and
// no flag it does not know.
func TestDockerfilesNeedNoNewerFrontend(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("docker/*/*Dockerfile")
	if err != nil || len(files) < 6 {
		t.Fatalf("Dockerfiles: %v %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(data), "\n") {
			if directive := regexp.MustCompile(`(?i)^#\s*(syntax|check)\s*=`); directive.MatchString(line) {
				t.Errorf("%s:%d: %q asks for another Dockerfile frontend than the engine's", f, n+1, line)
			}
			if heredocStart.MatchString(line) && !strings.HasPrefix(strings.TrimSpace(line), "#") {
				t.Errorf("%s:%d: a heredoc, which Docker 20.10's frontend does not know: make it a file", f, n+1)
			}
		}
		stages, _ := parseDockerfile(t, f)
		for _, s := range stages {
			for _, in := range s.instructions {
				for _, word := range strings.Fields(in.args) {
					if !strings.HasPrefix(word, "--") {
						break // the flags come first; what follows is the instruction's own
					}
					name, _, _ := strings.Cut(strings.TrimPrefix(word, "--"), "=")
					if !slices.Contains(frontendFlags[in.cmd], name) {
						t.Errorf("%s:%d: %s --%s, a flag this check does not know Docker 20.10's frontend to take", f, in.line, in.cmd, name)
					}
				}
			}
		}
	}
}

// An image whose Dockerfile lies outside its build context (the app's source image) gets a
// copy of that Dockerfile in the context from pulumi-docker (.dockerfile.<random>, v4.11.2
// provider/image.go: clibuild.AddDockerfileToBuildContext), with that name appended to
// .dockerignore, and BuildKit does not apply .dockerignore to an uploaded context. The app
// image, which copies the source image's files, must remove both before any stage uses them:
// otherwise they land in the image, and with a new random name every build, every step after
// them misses the cache. (COPY --exclude would say it in one line, but needs the Dockerfile
// 1.19 frontend, which older engines lack: TestDockerfilesNeedNoNewerFrontend.)
func TestAppFilesLeaveOutPulumisDockerfile(t *testing.T) {
	t.Parallel()
	checked := 0
	for _, stack := range []string{"local", "staging"} {
		run := mustRun(t, stack, nil)
		for _, img := range run.OfType("docker:index/image:Image") {
			build := img.Inputs["build"].ObjectValue()
			context, dockerfile := build["context"].StringValue(), build["dockerfile"].StringValue()
			if rel, err := filepath.Rel(context, dockerfile); err == nil && !strings.HasPrefix(rel, "..") {
				continue // inside the context: nothing is added
			}
			checked++
			var consumers []*mocks.Resource
			for _, other := range run.OfType("docker:index/image:Image") {
				if args, ok := other.Inputs["build"].ObjectValue()["args"]; ok && args.ObjectValue()["APP_SOURCE"].V == img.Inputs["imageName"].V {
					consumers = append(consumers, other)
				}
			}
			if len(consumers) != 1 {
				t.Errorf("%s's %s (Dockerfile outside its context): %d images copy from it, want the one image that cleans it up", stack, img.Name, len(consumers))
				continue
			}
			file := consumers[0].Inputs["build"].ObjectValue()["dockerfile"].StringValue()
			stages, _ := parseDockerfile(t, file)
			i := slices.IndexFunc(stages, func(s dockerStage) bool { return s.base == "${APP_SOURCE}" })
			if i < 0 {
				t.Errorf("%s has no stage FROM ${APP_SOURCE}", file)
				continue
			}
			for _, p := range sourceCopyProblems(stages, stages[i].name) {
				t.Errorf("%s (%s's %s): %s", file, stack, consumers[0].Name, p)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no image has its Dockerfile outside its context; the check would pass vacuously")
	}
	// The check itself, on what it must catch and what it must let through.
	stage := func(name string, ins ...dockerInstruction) dockerStage {
		return dockerStage{name: name, instructions: ins}
	}
	copyIn := dockerInstruction{cmd: "COPY", args: "--from=src --chown=app:app / /app", line: 1}
	clean := dockerInstruction{cmd: "RUN", args: "rm -f /app/.dockerfile.* /app/.dockerignore", line: 2}
	for name, c := range map[string]struct {
		stages []dockerStage
		want   string
	}{
		"ok":           {[]dockerStage{stage("files", copyIn, clean), stage("prod", dockerInstruction{cmd: "COPY", args: "--from=files /app /app", line: 3})}, ""},
		"not removed":  {[]dockerStage{stage("files", copyIn)}, "line 1: the copy of src is not followed by a RUN rm"},
		"half removed": {[]dockerStage{stage("files", copyIn, dockerInstruction{cmd: "RUN", args: "rm -f /app/.dockerfile.*", line: 2})}, "is not followed"},
		"second copy":  {[]dockerStage{stage("files", copyIn, clean), stage("prod", dockerInstruction{cmd: "COPY", args: "--from=src / /srv", line: 3})}, "line 3: a second copy from src"},
		"none":         {[]dockerStage{stage("prod")}, "no stage copies"},
	} {
		got := strings.Join(sourceCopyProblems(c.stages, "src"), "\n")
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: sourceCopyProblems = %q, want %q", name, got, c.want)
		}
	}
}
