package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/sudoku/infra/internal/diagram"
	"github.com/sudoku/infra/internal/preview"
)

// stackDiagram is cmd/diagram's drawing of a stack's first deployment, from the preview the
// engine would show; drop leaves out the steps of the resources it names.
func stackDiagram(t *testing.T, stack string, overrides map[string]string, drop ...string) string {
	t.Helper()
	data := mustRun(t, stack, overrides).PreviewJSON(nil)
	if len(drop) > 0 {
		var doc struct {
			Steps []map[string]any `json:"steps"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		var kept []map[string]any
		for _, s := range doc.Steps {
			urn, _ := s["urn"].(string)
			dropped := false
			for _, d := range drop {
				dropped = dropped || strings.HasSuffix(urn, "::"+d)
			}
			if !dropped {
				kept = append(kept, s)
			}
		}
		doc.Steps = kept
		data, _ = json.Marshal(doc)
	}
	p, err := preview.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	text, err := diagram.Render(p)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// The diagrams of the README and docs/ are drawn from the program: make golden redraws them.
func TestDocsDiagrams(t *testing.T) {
	parallelUnlessUpdating(t)
	for stack, overrides := range map[string]map[string]string{"local": nil, "staging": nil, "production": promoted} {
		assertGeneratedSection(t, "diagram-"+stack, "internal/diagram or the program", "```mermaid\n"+stackDiagram(t, stack, overrides)+"```\n")
	}
}

// The diagram follows the resources: a security-group rule taken away takes its path with
// it, and a resource added to a component shows in that component.
func TestDiagramFollowsTheProgram(t *testing.T) {
	t.Parallel()
	base := stackDiagram(t, "staging", nil)
	for _, want := range []string{
		`internet -->|"tcp 80 HTTP"| lb`,
		`lb -->|"tcp 8080 · everything else"| app`,
		`lb -->|"tcp 3000 · /.well-known/mercure /.well-known/mercure/*"| mercure`,
		`app -->|"tcp 3306"| db`, `app -->|"tcp 6379"| cache`, `app -->|"tcp 3000"| mercure`,
		`app -->|"tcp 443 via NAT"| awsapis`,
		`mercure -.->|"reads"| secret_mercure_jwt_keys`,
	} {
		if !strings.Contains(base, want) {
			t.Errorf("the staging diagram lacks %s:\n%s", want, base)
		}
	}
	if strings.Contains(base, `mercure -.->|"reads"| secret_db_credentials`) {
		t.Error("the hub is drawn reading the database's credentials, which it does not")
	}
	// The app's rule into the hub's security group, removed: the path goes.
	without := stackDiagram(t, "staging", nil, "network-app-to-mercure-in")
	if strings.Contains(without, `app -->|"tcp 3000"| mercure`) || !strings.Contains(without, `app -->|"tcp 3306"| db`) {
		t.Errorf("without the app-to-hub rule:\n%s", without)
	}
	// Resources added to components show in them.
	more := stackDiagram(t, "staging", map[string]string{"waf": "true", "natGateways": "one-per-az", "cacheReplica": "true", "allowHttpOnly": "false",
		"domainName": "staging.example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ"})
	for _, want := range []string{"Application Load Balancer, WAF", `nat["2 × NAT gateway"]`, "2 × cache.t3.micro", `internet -->|"tcp 443 HTTPS"| lb`, `internet -->|"tcp 80 (redirects to HTTPS)"| lb`} {
		if !strings.Contains(more, want) {
			t.Errorf("the diagram lacks %s:\n%s", want, more)
		}
	}
	local := stackDiagram(t, "local", map[string]string{"dbHostPort": "13306"})
	if !strings.Contains(local, `host -->|"tcp 13306 → 3306"| db`) {
		t.Errorf("a published MySQL port is not drawn:\n%s", local)
	}
}

// Every Mermaid diagram in the README and docs/ parses with Mermaid itself (tools/mermaid, which
// .ci/run installs): a diagram GitHub cannot draw helps nobody.
func TestDocsMermaidParses(t *testing.T) {
	parallelUnlessUpdating(t)
	node := tool(t, "node")
	if _, err := os.Stat("tools/mermaid/node_modules/mermaid"); err != nil {
		if os.Getenv("SUDOKU_REQUIRE_TOOLS") == "1" {
			t.Fatal("tools/mermaid is not installed, and SUDOKU_REQUIRE_TOOLS=1 requires it (npm ci --prefix tools/mermaid)")
		}
		t.Skip("tools/mermaid is not installed (npm ci --prefix tools/mermaid); skipping")
	}
	// Node and Mermaid take about a CPU-second: diagrams that parsed with this very node,
	// Mermaid release and checker are not parsed again (userCached, keyed by all of them).
	h := sha256.New()
	for _, f := range []string{node, "tools/mermaid/package-lock.json", "tools/mermaid/check.mjs"} {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(f)
		if f == node {
			data = nil // the binary's size and time stand for it
		}
		fmt.Fprintf(h, "%s %d %d\n%s\n", f, info.Size(), info.ModTime().UnixNano(), data)
	}
	var files []string
	for _, doc := range docFiles(t) {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, block := range strings.Split(string(text), "```mermaid\n")[1:] {
			body, _, _ := strings.Cut(block, "```")
			files = append(files, writeTemp(t, fmt.Sprintf("diagram-%d.mmd", len(files)), body))
			fmt.Fprintf(h, "diagram %d\n%s", len(body), body)
		}
	}
	if len(files) < 3 {
		t.Fatalf("the README and docs/ have %d Mermaid diagrams, want the local, staging and production ones", len(files))
	}
	_, err := userCached("mermaid-parsed", h.Sum(nil), func(string) error {
		if out, err := exec.Command(node, append([]string{"tools/mermaid/check.mjs"}, files...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("%w\n%s", err, out)
		}
		return nil
	})
	if err != nil {
		t.Errorf("Mermaid cannot parse a diagram of the README or docs/: %v", err)
	}
}
