package imagehash

import (
	"os"
	"path/filepath"
	"testing"
)

// The image tag follows the build's content: same files, same tag (no push, no new task
// definition); any change to a file, the Dockerfile or the target, a new tag. Files that
// .dockerignore excludes do not count.
func TestContentTag(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM scratch\n")
	write("public/index.php", "<?php echo 1;")
	write(".dockerignore", "var\n*.log\n")
	b := Build{Context: dir, Target: "production"}
	tag := func() string {
		t.Helper()
		s, err := b.Tag()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := tag()
	if len(first) != 16 || tag() != first {
		t.Fatalf("tag %q is not stable", first)
	}
	write("var/cache/x", "ignored")
	write("debug.log", "ignored")
	if tag() != first {
		t.Error("a file .dockerignore excludes changed the tag")
	}
	write("public/index.php", "<?php echo 2;")
	second := tag()
	if second == first {
		t.Error("a changed source file kept the tag")
	}
	b.Target = "development"
	if tag() == second {
		t.Error("another target kept the tag")
	}
	write(".dockerignore", "var\n!var/keep\n")
	if tag() == second {
		t.Error("with exceptions in .dockerignore, everything must be hashed")
	}
}
