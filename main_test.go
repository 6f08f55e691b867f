package main

import (
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sudoku/infra/internal/mocks"
)

// TestMain runs more tests side by side than the testing package's default (GOMAXPROCS)
// unless -parallel is given: most of them wait on servers and scripts rather than compute.
// The scripts under test never see the settings of the shell that runs the tests (a
// developer's STACK=alice, CI's GITHUB_*). It removes what the tests built once for all of them.
func TestMain(m *testing.M) {
	for _, e := range os.Environ() {
		if name, _, _ := strings.Cut(e, "="); scriptSetting(name) {
			os.Unsetenv(name)
		}
	}
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", strconv.Itoa(max(8, 2*runtime.GOMAXPROCS(0))))
	}
	code := m.Run()
	if scratchDir.dir != "" {
		os.RemoveAll(scratchDir.dir)
	}
	os.Exit(code)
}

// scriptSetting says whether the scripts in scripts/ read name from their environment, as a
// setting of the user's or CI's rather than of the tests (SUDOKU_REQUIRE_TOOLS and
// SUDOKU_MERCURE_BIN tell the tests what the machine has).
func scriptSetting(name string) bool {
	switch name {
	case "SUDOKU_REQUIRE_TOOLS", "SUDOKU_MERCURE_BIN":
		return false
	case "STACK", "APP_IMAGE", "MERCURE_IMAGE", "STAGING_REGISTRY", "STAGING_STACK", "AWS_REGION", "PR_NUMBER",
		"DOCKER_DAEMON_JSON", "ALLOW_DESTRUCTIVE_INPUT", "GH_TOKEN":
		return true
	}
	for _, prefix := range []string{"SUDOKU_", "E2E_", "GITHUB_", "PULUMI_", "RUNNER_"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

var scratchDir struct {
	once sync.Once
	dir  string
	err  error
}

// scratch is a directory for what the tests make once and share (it outlives any one test).
func scratch(t *testing.T) string {
	t.Helper()
	scratchDir.once.Do(func() { scratchDir.dir, scratchDir.err = os.MkdirTemp("", "sudoku-infra-tests-") })
	if scratchDir.err != nil {
		t.Fatal(scratchDir.err)
	}
	return scratchDir.dir
}

// userCached is a directory kept across test runs in the user's cache, named by kind and a
// hash of everything that goes into it: build makes it the first time (into a directory of
// its own, renamed into place when complete, so an interrupted run or a concurrent one never
// leaves half of one), and the other directories of that kind, of earlier inputs, go.
func userCached(kind string, hash []byte, build func(dir string) error) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	parent := filepath.Join(cache, "sudoku-infra-tests")
	dir := filepath.Join(parent, kind+"-"+hex.EncodeToString(hash)[:16])
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	if old, err := filepath.Glob(filepath.Join(parent, kind+"-*")); err == nil {
		for _, o := range old {
			os.RemoveAll(o)
		}
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, "building-"+kind+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := build(tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(dir); statErr != nil {
			return "", err
		}
		// Another test run put the same one in place first.
	}
	return dir, nil
}

// parallelUnlessUpdating runs a test of a golden file or a generated section of the docs in
// parallel with the others, except with -update (make golden), where several of them rewrite
// the same file.
func parallelUnlessUpdating(t *testing.T) {
	if !mocks.Update() {
		t.Parallel()
	}
}
