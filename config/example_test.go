package config

import (
	"os"
	"path/filepath"
	"sort"
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
	t.Chdir(filepath.Dir(path))
	if _, err := Load(LoadOptions{File: path}); err != nil {
		t.Errorf("the example does not load: %v", err)
	}
}
