package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad parses any bytes as a config file: Load returns a config or an
// error, never panics, and a config it returns is valid.
func FuzzLoad(f *testing.F) {
	example, _ := os.ReadFile("../spladeq.example.yaml")
	f.Add(example)
	f.Add([]byte("qdrant:\n  url: [1, 2]\n  timeout: forever\n"))
	f.Add([]byte("vectorizers:\n  x: 5\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("search:\n  alpha: .nan\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(p, data, 0o644)
		cfg, err := Load(LoadOptions{File: p})
		if err == nil {
			if verr := cfg.Validate(); verr != nil {
				t.Fatalf("Load returned an invalid config: %v", verr)
			}
		}
	})
}
