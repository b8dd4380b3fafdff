package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestExampleFileNamesEveryKeyAndLoads keeps spladeq.example.yaml complete.
func TestExampleFileNamesEveryKeyAndLoads(t *testing.T) {
	path, _ := filepath.Abs("../spladeq.example.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			key := prefix + k
			have[key] = true
			if sub, ok := v.(map[string]any); ok && key != "vectorizers" {
				walk(key+".", sub)
			}
		}
	}
	walk("", doc)
	var missing []string
	for k := range defaults {
		if !have[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("spladeq.example.yaml lacks %v", missing)
	}
	t.Chdir(t.TempDir())
	example, err := Load(LoadOptions{File: path})
	if err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	def, err := Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// It shows the defaults: every key outside vectorizers as Load gives it
	// with no file, and the default vectorizers' modules and models (their
	// other keys are spelt out where the defaults leave zeros).
	for name, v := range def.Vectorizers {
		if e := example.Vectorizers[name]; e.Module != v.Module || e.Model != v.Model {
			t.Errorf("vectorizers.%s: the example has module %q model %q, the default is module %q model %q", name, e.Module, e.Model, v.Module, v.Model)
		}
	}
	example.Vectorizers, def.Vectorizers = nil, nil
	got, _ := example.YAML()
	want, _ := def.YAML()
	if string(got) != string(want) {
		t.Errorf("spladeq.example.yaml does not show the defaults:\n%s", lineDiff(string(want), string(got)))
	}
}

// lineDiff lists the lines of got that differ from want.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for i := range w {
		if i < len(g) && g[i] != w[i] {
			out = append(out, fmt.Sprintf("default %q, example %q", strings.TrimSpace(w[i]), strings.TrimSpace(g[i])))
		}
	}
	return strings.Join(out, "\n")
}
