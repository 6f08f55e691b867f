package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Static checks of the files the images are built from, with the real tools where this
// machine has them: php -l, nginx -t and php-fpm -t. Without the tools the checks skip,
// except where SUDOKU_REQUIRE_TOOLS=1 (CI sets it), so CI cannot pass by skipping them.
func tool(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
		// Debian and Ubuntu name it after the PHP version: php-fpm8.2, php-fpm8.3, ...
		for _, dir := range filepath.SplitList(os.Getenv("PATH") + ":/usr/sbin") {
			if matches, _ := filepath.Glob(filepath.Join(dir, n+"[0-9]*")); len(matches) > 0 {
				return matches[0]
			}
		}
	}
	if os.Getenv("SUDOKU_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s is not installed, and SUDOKU_REQUIRE_TOOLS=1 requires it (.ci/run installs it)", names[0])
	}
	t.Skipf("%s is not installed; skipping (set SUDOKU_REQUIRE_TOOLS=1 to fail instead)", names[0])
	return ""
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

func TestPhpFilesParse(t *testing.T) {
	php := tool(t, "php")
	var files []string
	err := filepath.WalkDir("app", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "vendor" || d.Name() == "var") {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, ".php") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no PHP files under app/")
	}
	for _, f := range files {
		runTool(t, php, "-l", f)
	}
}

// heredocs returns the files a Dockerfile writes with `COPY <<'NAME' /path`, by NAME. The
// app image's build context is the app, so its Nginx and PHP-FPM files live in its
// Dockerfile.
func heredocs(t *testing.T, dockerfile string) map[string]string {
	t.Helper()
	f, err := os.Open(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := regexp.MustCompile(`^COPY (?:--\S+ )*<<'([A-Z_]+)' \S+$`)
	docs := map[string]string{}
	var name string
	var body strings.Builder
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := scanner.Text()
		switch {
		case name == "":
			if m := start.FindStringSubmatch(line); m != nil {
				name = m[1]
				body.Reset()
			}
		case line == name:
			docs[name] = body.String()
			name = ""
		default:
			body.WriteString(line + "\n")
		}
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	if name != "" {
		t.Fatalf("%s: heredoc %s is not closed", dockerfile, name)
	}
	return docs
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// appImageFile is the app Dockerfile's heredoc called name.
func appImageFile(t *testing.T, name string) string {
	t.Helper()
	docs := heredocs(t, "docker/php/Dockerfile")
	content, ok := docs[name]
	if !ok {
		t.Fatalf("docker/php/Dockerfile has no %s heredoc (found %v)", name, keys(docs))
	}
	return content
}

func TestAppImageNginxConfig(t *testing.T) {
	conf := appImageFile(t, "NGINX_CONF")
	nginx := tool(t, "nginx")
	// The image keeps pid and temp files in /tmp; the check keeps them in its own directory.
	conf = strings.ReplaceAll(conf, "/tmp/", t.TempDir()+"/")
	runTool(t, nginx, "-t", "-q", "-e", "/dev/stderr", "-c", writeTemp(t, "nginx.conf", conf))
}

func TestAppImagePhpFpmPool(t *testing.T) {
	pool := appImageFile(t, "FPM_POOL")
	fpm := tool(t, "php-fpm")
	poolFile := writeTemp(t, "pool.conf", pool)
	main := fmt.Sprintf("[global]\nerror_log = /dev/stderr\ninclude = %s\n", poolFile)
	// -R: CI runs as root; the image runs FPM as the unprivileged app user.
	runTool(t, fpm, "-t", "-R", "-y", writeTemp(t, "php-fpm.conf", main))
}

func TestProxyNginxConfig(t *testing.T) {
	nginx := tool(t, "nginx")
	tmpl, err := os.ReadFile("docker/proxy/default.conf.template")
	if err != nil {
		t.Fatal(err)
	}
	// What the image's entrypoint does at start: substitute the upstreams from the
	// environment (the values the LoadBalancer component sets).
	server := strings.NewReplacer("${APP_UPSTREAM}", "sudoku-local-app:8080", "${MERCURE_UPSTREAM}", "sudoku-local-mercure:3000").Replace(string(tmpl))
	if strings.Contains(server, "${") {
		t.Errorf("the template uses a variable the LoadBalancer component does not set")
	}
	conf := fmt.Sprintf("pid %s;\nevents {}\nhttp {\n  include %s;\n}\n",
		filepath.Join(t.TempDir(), "nginx.pid"), writeTemp(t, "default.conf", server))
	runTool(t, nginx, "-t", "-q", "-e", "/dev/stderr", "-c", writeTemp(t, "nginx.conf", conf))
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
