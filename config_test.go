package main

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sudoku/infra/components"
	"github.com/sudoku/infra/internal/guard"
	"github.com/sudoku/infra/internal/mocks"
)

// Pulumi.yaml declares exactly the keys config.go reads, with the same types and defaults:
// the engine applies Pulumi.yaml's defaults, the program falls back to its own, and the two
// must never disagree.
func TestPulumiYamlDeclaresEveryKey(t *testing.T) {
	t.Parallel()
	p, err := mocks.LoadProject(".")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "sudoku" {
		t.Errorf("project name %q, want sudoku (the config namespace)", p.Name)
	}
	seen := map[string]bool{}
	for _, k := range configKeys {
		seen[k.name] = true
		d, ok := p.Config[k.name]
		if !ok {
			t.Errorf("Pulumi.yaml does not declare %s", k.name)
			continue
		}
		if d.Type != k.typ {
			t.Errorf("%s: Pulumi.yaml type %q, config.go %q", k.name, d.Type, k.typ)
		}
		if k.typ == "array" && (d.Items == nil || d.Items.Type != "string") {
			t.Errorf("%s: Pulumi.yaml must declare items: {type: string}", k.name)
		}
		if !sameDefault(d.Default, k.def) {
			t.Errorf("%s: Pulumi.yaml default %#v, config.go %#v", k.name, d.Default, k.def)
		}
		if strings.TrimSpace(d.Description) == "" {
			t.Errorf("%s: Pulumi.yaml gives no description (the configuration reference is made of them)", k.name)
		}
	}
	for name := range p.Config {
		if !seen[name] {
			t.Errorf("Pulumi.yaml declares %s, which config.go does not read", name)
		}
	}
}

func sameDefault(yamlValue, goValue any) bool {
	if list, ok := goValue.([]string); ok {
		got, _ := yamlValue.([]any)
		if len(got) != len(list) {
			return false
		}
		for i := range list {
			if got[i] != list[i] {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(yamlValue, goValue)
}

// docs/configuration.md's table is generated from Pulumi.yaml's schema (type, default,
// description) and config.go's targets, as terraform-docs makes a module's inputs table;
// -update rewrites it. The descriptions that name values the program defines say them.
func TestDocsConfigTable(t *testing.T) {
	parallelUnlessUpdating(t)
	p, err := mocks.LoadProject(".")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Config["releaseCommand"].Description, components.DoctrineMigrate) {
		t.Errorf("Pulumi.yaml's description of releaseCommand does not say what auto runs: %s", components.DoctrineMigrate)
	}
	assertGeneratedSection(t, "config-table", "Pulumi.yaml", configTable(p))
}

// docs/continuous-delivery.md lists the types the destructive-change guard reports, from guard.Stateful.
func TestDocsGuardTypes(t *testing.T) {
	parallelUnlessUpdating(t)
	var b strings.Builder
	b.WriteString("\n| Type | Why |\n|---|---|\n")
	types := make([]string, 0, len(guard.Stateful))
	for typ := range guard.Stateful {
		types = append(types, typ)
	}
	sort.Strings(types)
	for _, typ := range types {
		fmt.Fprintf(&b, "| `%s` | %s |\n", typ, guard.Stateful[typ])
	}
	b.WriteString("\n")
	assertGeneratedSection(t, "guard-types", "internal/guard/guard.go", b.String())
}

// configTable is the configuration reference: Pulumi.yaml's keys, types, defaults and
// descriptions, by the target that reads them (config.go), in config.go's order.
func configTable(p *mocks.Project) string {
	var b strings.Builder
	sections := []struct{ target, title string }{
		{"all", "Both targets"}, {"docker", "Local (`target: docker`)"}, {"aws", "Staging (`target: aws`)"},
	}
	for _, s := range sections {
		rows := 0
		for _, k := range configKeys {
			if k.target != s.target {
				continue
			}
			if rows == 0 {
				fmt.Fprintf(&b, "\n**%s**\n\n| Key | Type | Default | Description |\n|---|---|---|---|\n", s.title)
			}
			rows++
			d := p.Config[k.name]
			fmt.Fprintf(&b, "| `sudoku:%s` | %s | %s | %s |\n", k.name, d.Type, defaultCell(d.Default), d.Description)
		}
	}
	b.WriteString("\n")
	return b.String()
}

func defaultCell(v any) string {
	switch d := v.(type) {
	case string:
		if d == "" {
			return "(empty)"
		}
		return "`" + d + "`"
	case []any:
		if len(d) == 0 {
			return "`[]`"
		}
		items := make([]string, len(d))
		for i, item := range d {
			items[i] = fmt.Sprint(item)
		}
		return "`" + strings.Join(items, ", ") + "`"
	default:
		return fmt.Sprintf("`%v`", d)
	}
}

// docs/aws.md says what Pulumi.staging.yaml sets; the sentence names every key of the file,
// with its value.
func TestDocsNamesEveryStagingSetting(t *testing.T) {
	parallelUnlessUpdating(t)
	data, err := os.ReadFile("Pulumi.staging.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("docs/aws.md")
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(readme), "`Pulumi.staging.yaml` sets ")
	if start < 0 {
		t.Fatal("docs/aws.md no longer says what Pulumi.staging.yaml sets")
	}
	paragraph, _, _ := strings.Cut(string(readme)[start:], "\n\n")
	paragraph = strings.Join(strings.Fields(paragraph), " ")
	for key, value := range file.Config {
		if want := fmt.Sprintf("`%s: %v`", key, value); !strings.Contains(paragraph, want) {
			t.Errorf("docs/aws.md's account of Pulumi.staging.yaml lacks %s", want)
		}
	}
}
