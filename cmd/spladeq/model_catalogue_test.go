package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/plugin/hub"
)

func TestModelLsKnownListsTheCatalogue(t *testing.T) {
	code, out, stderr := spladeq(t, "", "model", "ls", "--known")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, k := range hub.Catalogue {
		if !strings.Contains(out, k.Name) || !strings.Contains(out, k.License) {
			t.Errorf("the listing lacks %s or its licence %s:\n%s", k.Name, k.License, out)
		}
	}
}

func TestModelPullPrintsAConfigurationThatLoads(t *testing.T) {
	const repo = "opensearch-project/opensearch-neural-sparse-encoding-doc-v2-distill"
	files := map[string][]byte{}
	for _, f := range []string{"tokenizer.json", "config.json", "model.onnx", "idf.json"} {
		data, err := os.ReadFile(filepath.Join(fixtureModel, f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = data
	}
	models := t.TempDir()
	code, out, stderr := spladeq(t, "", "model", "pull", "--hub-url", fakeHub(t, repo, files), "--models-dir", models, "--vectorizer", "learned", repo)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	file := filepath.Join(t.TempDir(), "spladeq.yaml")
	if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.LoadOptions{File: file})
	if err != nil {
		t.Fatalf("the printed configuration does not load: %v\n%s", err, out)
	}
	v := cfg.Vectorizers["learned"]
	if v.Module != config.ModuleSPLADEIDF || v.Model != filepath.Join(models, repo) || cfg.Collection.Sparse != "learned" {
		t.Errorf("vectorizer %s %s, collection.sparse %s:\n%s", v.Module, v.Model, cfg.Collection.Sparse, out)
	}
}

// fakeHub serves files as the model hub serves repository repo (its file
// tree and its resolve/main downloads) and returns its URL.
func fakeHub(t *testing.T, repo string, files map[string][]byte) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/models/"+repo+"/tree/main" {
			var tree []map[string]any
			for name, data := range files {
				tree = append(tree, map[string]any{"type": "file", "path": name, "size": len(data)})
			}
			json.NewEncoder(w).Encode(tree)
			return
		}
		if name, ok := strings.CutPrefix(r.URL.Path, "/"+repo+"/resolve/main/"); ok && files[name] != nil {
			w.Write(files[name])
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
