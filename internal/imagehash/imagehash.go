// Package imagehash tags an image build by its content: a hash of the Dockerfile, the target,
// the platform, the build arguments and every file of the context that .dockerignore does not
// exclude. Same content, same tag; any change, a new one. It is plain Go (no Pulumi), so that
// its tests need no test binary with the Pulumi SDKs in it.
package imagehash

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Build is what goes into one image's build, as far as its tag is concerned.
type Build struct {
	Context    string            // build context directory
	Dockerfile string            // Dockerfile path; "" means <Context>/Dockerfile
	Target     string            // multi-stage target; "" builds the last stage
	Platform   string            // such as linux/arm64; "" builds for the engine's own
	Args       map[string]string // build arguments
}

// Tag hashes the Dockerfile, the target, the build arguments and every file of the
// context that .dockerignore does not exclude. It is the first 16 hex characters of the
// SHA-256.
func (b Build) Tag() (string, error) {
	h := sha256.New()
	dockerfile := b.Dockerfile
	if dockerfile == "" {
		dockerfile = filepath.Join(b.Context, "Dockerfile")
	}
	if err := hashFile(h, "Dockerfile", dockerfile); err != nil {
		return "", err
	}
	fmt.Fprintf(h, "target=%s\n", b.Target)
	if b.Platform != "linux/amd64" {
		// Images built before platforms were hashed were all linux/amd64: they keep their tags.
		fmt.Fprintf(h, "platform=%s\n", b.Platform)
	}
	keys := make([]string, 0, len(b.Args))
	for k := range b.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "arg %s=%s\n", k, b.Args[k])
	}
	ignore, err := readDockerignore(b.Context)
	if err != nil {
		return "", err
	}
	err = filepath.WalkDir(b.Context, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(b.Context, path)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if d.Name() == ".git" || ignored(ignore, rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		return hashFile(h, rel, path)
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func hashFile(h io.Writer, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(h, "file %s\n", name)
	_, err = io.Copy(h, f)
	return err
}

// readDockerignore reads the context's .dockerignore patterns. A file with "!" exceptions
// counts as having no patterns at all, so that everything is hashed.
func readDockerignore(context string) ([]string, error) {
	f, err := os.Open(filepath.Join(context, ".dockerignore"))
	if os.IsNotExist(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	var patterns []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		p := strings.TrimSpace(s.Text())
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if strings.HasPrefix(p, "!") {
			return nil, nil
		}
		patterns = append(patterns, strings.Trim(filepath.ToSlash(p), "/"))
	}
	return patterns, s.Err()
}

// ignored matches a context-relative path as Docker does for simple patterns. Where it is
// unsure (** patterns, exceptions) it hashes the file: a needless rebuild is better than a
// changed image that keeps its tag.
func ignored(patterns []string, rel string) bool {
	for _, p := range patterns {
		if ok, _ := filepath.Match(p, rel); ok {
			return true
		}
	}
	return false
}
