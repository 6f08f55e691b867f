// Package guard finds the stateful resources that a `pulumi preview --json` would replace
// or delete.
package guard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Stateful are the resource types whose replacement or deletion loses data or credentials,
// with what a reviewer should read them as.
var Stateful = map[string]string{
	"aws:rds/cluster:Cluster":                           "Aurora cluster (the database)",
	"aws:rds/instance:Instance":                         "RDS instance (a database)",
	"aws:elasticache/replicationGroup:ReplicationGroup": "ElastiCache replication group (the cache)",
	"aws:ecr/repository:Repository":                     "ECR repository (its images)",
	"aws:secretsmanager/secret:Secret":                  "Secrets Manager secret (credentials)",
	"aws:kms/key:Key":                                   "KMS key (everything encrypted with it)",
	"aws:s3/bucket:Bucket":                              "S3 bucket",
	"aws:s3/bucketV2:BucketV2":                          "S3 bucket",
	"aws:dynamodb/table:Table":                          "DynamoDB table",
	"aws:efs/fileSystem:FileSystem":                     "EFS file system",
	"docker:index/volume:Volume":                        "Docker volume (local data)",
}

// destructive maps the preview's step operations that lose the old resource to what the
// finding calls them.
var destructive = map[string]string{
	"delete":             "delete",
	"replace":            "replace",
	"create-replacement": "replace",
	"delete-replaced":    "replace",
	"read-replacement":   "replace",
	"import-replacement": "replace",
}

// preview is the part of `pulumi preview --json` the guard reads.
type preview struct {
	Steps       *[]step `json:"steps"`
	Diagnostics []struct {
		URN      string `json:"urn"`
		Message  string `json:"message"`
		Severity string `json:"severity"`
	} `json:"diagnostics"`
}

type step struct {
	Op             string   `json:"op"`
	URN            string   `json:"urn"`
	ReplaceReasons []string `json:"replaceReasons"`
	OldState       *struct {
		Protect bool `json:"protect"`
	} `json:"oldState"`
}

// Finding is one stateful resource the preview would replace or delete.
type Finding struct {
	Change    string // "replace" or "delete"
	Name      string
	Type      string
	What      string
	Reasons   []string // the properties that force a replacement
	Protected bool     // pulumi up will refuse it until the resource is unprotected
}

// ErrFailedPreview is returned for a preview that reports errors: it cannot be judged.
var ErrFailedPreview = errors.New("the preview failed")

// Check reads `pulumi preview --json` and returns the stateful resources it would replace
// or delete. Anything that is not such a document is an error, never a pass.
func Check(r io.Reader) ([]Finding, error) {
	var p preview
	dec := json.NewDecoder(r)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("not JSON from `pulumi preview --json`: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not JSON from `pulumi preview --json`: more than one document")
	}
	var failures []string
	for _, d := range p.Diagnostics {
		if d.Severity == "error" {
			failures = append(failures, strings.TrimSpace(d.Message))
		}
	}
	if len(failures) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrFailedPreview, strings.Join(failures, "; "))
	}
	if p.Steps == nil {
		return nil, errors.New(`not a preview: the JSON has no "steps" (run pulumi preview --json)`)
	}

	found := map[string]*Finding{}
	for _, s := range *p.Steps {
		change, ok := destructive[s.Op]
		if !ok {
			continue
		}
		urn, err := resource.ParseURN(s.URN)
		if err != nil {
			return nil, fmt.Errorf("step %q has no valid URN %q: %w", s.Op, s.URN, err)
		}
		typ := string(urn.Type())
		what, stateful := Stateful[typ]
		if !stateful {
			continue
		}
		f := found[s.URN]
		if f == nil {
			f = &Finding{Change: change, Name: urn.Name(), Type: typ, What: what}
			found[s.URN] = f
		}
		if change == "replace" {
			f.Change = "replace"
		}
		f.Reasons = appendUnique(f.Reasons, s.ReplaceReasons...)
		if s.OldState != nil && s.OldState.Protect {
			f.Protected = true
		}
	}
	findings := make([]Finding, 0, len(found))
	for _, f := range found {
		findings = append(findings, *f)
	}
	sort.Slice(findings, func(i, j int) bool {
		if findings[i].Type != findings[j].Type {
			return findings[i].Type < findings[j].Type
		}
		return findings[i].Name < findings[j].Name
	})
	return findings, nil
}

func appendUnique(list []string, more ...string) []string {
	for _, m := range more {
		dup := false
		for _, l := range list {
			dup = dup || l == m
		}
		if !dup {
			list = append(list, m)
		}
	}
	return list
}

// OverrideLabel is the pull-request label that lets a destructive change merge and deploy.
const OverrideLabel = "allow-destructive-changes"

// Markdown renders the findings for the pull-request comment.
func Markdown(findings []Finding) string {
	if len(findings) == 0 {
		return "### :white_check_mark: Destructive-change guard: no stateful resource is replaced or deleted\n"
	}
	var b strings.Builder
	b.WriteString("### :rotating_light: Destructive-change guard: stateful resources would be replaced or deleted\n\n")
	b.WriteString("Applying this change **loses what these resources hold**. Read each line before you merge.\n\n")
	b.WriteString("| Change | Resource | Type | Forced by |\n|---|---|---|---|\n")
	for _, f := range findings {
		reasons := "removed from the program"
		if f.Change == "replace" {
			reasons = "(no property given)"
			if len(f.Reasons) > 0 {
				reasons = "`" + strings.Join(f.Reasons, "`, `") + "`"
			}
		}
		name := "`" + f.Name + "`"
		if f.Protected {
			name += " (protected: `pulumi up` refuses until unprotected)"
		}
		fmt.Fprintf(&b, "| **%s** | %s | %s | %s |\n", f.Change, name, f.What, reasons)
	}
	fmt.Fprintf(&b, "\nIf this is intended, add the label `%s` to the pull request: the check then passes and the deployment after the merge goes ahead. See README: Intended replacements.\n", OverrideLabel)
	return b.String()
}

// Text renders the findings for a terminal.
func Text(findings []Finding) string {
	if len(findings) == 0 {
		return "ok: no stateful resource is replaced or deleted\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "DESTRUCTIVE: %d stateful resource(s) would be replaced or deleted:\n", len(findings))
	for _, f := range findings {
		fmt.Fprintf(&b, "  %-7s %s (%s)", f.Change, f.Name, f.What)
		if len(f.Reasons) > 0 {
			fmt.Fprintf(&b, ", forced by %s", strings.Join(f.Reasons, ", "))
		}
		if f.Protected {
			b.WriteString(", protected")
		}
		b.WriteString("\n")
	}
	return b.String()
}
