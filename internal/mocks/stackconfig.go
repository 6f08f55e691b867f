package mocks

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ProjectKey is one key that Pulumi.yaml declares.
type ProjectKey struct {
	Type        string `yaml:"type"`
	Description string `yaml:"description"`
	Default     any    `yaml:"default"`
	Items       *struct {
		Type string `yaml:"type"`
	} `yaml:"items"`
}

// Project is the part of Pulumi.yaml the tests read.
type Project struct {
	Name    string                `yaml:"name"`
	Runtime any                   `yaml:"runtime"`
	Config  map[string]ProjectKey `yaml:"config"`
}

// LoadProject reads Pulumi.yaml in dir.
func LoadProject(dir string) (*Project, error) {
	data, err := os.ReadFile(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		return nil, err
	}
	var p Project
	if err := yaml.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("reading Pulumi.yaml: %w", err)
	}
	return &p, nil
}

// StackConfig is the configuration the engine would hand the program for stack: the
// project's defaults, overridden by Pulumi.<stack>.yaml when that file exists. Like the
// engine, it refuses a key in the project's namespace that Pulumi.yaml does not declare,
// and a value whose type differs from the declaration. Encrypted values are refused: the
// committed stack files must not need a passphrase to load.
func StackConfig(dir, stack string) (map[string]string, error) {
	return StackConfigFile(dir, filepath.Join(dir, "Pulumi."+stack+".yaml"))
}

// StackConfigFile is StackConfig with the stack's settings read from file, such as a
// template that a workflow copies to Pulumi.<stack>.yaml for a stack named per run.
func StackConfigFile(dir, file string) (map[string]string, error) {
	p, err := LoadProject(dir)
	if err != nil {
		return nil, err
	}
	cfg := map[string]string{}
	for key, decl := range p.Config {
		if decl.Default == nil {
			continue
		}
		v, err := configString(decl.Default)
		if err != nil {
			return nil, fmt.Errorf("reading Pulumi.yaml: default of %s: %w", key, err)
		}
		cfg[p.Name+":"+key] = v
	}

	data, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return cfg, nil // a new personal stack has no file: the defaults apply
	} else if err != nil {
		return nil, err
	}
	var stackFile struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(data, &stackFile); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(file), err)
	}
	for key, value := range stackFile.Config {
		ns, name, ok := strings.Cut(key, ":")
		if !ok {
			ns, name, key = p.Name, key, p.Name+":"+key
		}
		if m, isMap := value.(map[string]any); isMap {
			if _, secure := m["secure"]; secure {
				return nil, fmt.Errorf("%s: %s is encrypted; committed stack files must hold no secrets (the program generates them)", filepath.Base(file), key)
			}
		}
		if ns == p.Name {
			decl, declared := p.Config[name]
			if !declared {
				return nil, fmt.Errorf("%s: %s is not declared in Pulumi.yaml's config", filepath.Base(file), key)
			}
			if err := checkType(decl, value); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", filepath.Base(file), key, err)
			}
		}
		v, err := configString(value)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", filepath.Base(file), key, err)
		}
		cfg[key] = v
	}
	return cfg, nil
}

func checkType(decl ProjectKey, v any) error {
	ok := false
	switch decl.Type {
	case "string":
		_, ok = v.(string)
	case "integer":
		_, ok = v.(int)
	case "boolean":
		_, ok = v.(bool)
	case "array":
		_, ok = v.([]any)
	}
	if !ok {
		return fmt.Errorf("is declared %s but the value is %v (%T)", decl.Type, v, v)
	}
	return nil
}

// configString is a value as the engine passes it to the program: scalars as text,
// lists and maps as JSON.
func configString(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case int:
		return strconv.Itoa(t), nil
	case bool:
		return strconv.FormatBool(t), nil
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), nil
	default:
		b, err := json.Marshal(t)
		return string(b), err
	}
}
