package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/splade"
	"github.com/spladeq/spladeq/splade/hfgraph/hftest"
)

const fixture = "../../splade/testdata/models/bert-tiny"

// fakeHub serves the fixture model as repo test/bert-tiny at revision main,
// the ONNX graph under onnx/ as an LFS file. tamper may change a file's
// served bytes.
func fakeHub(t *testing.T, tamper func(path string, data []byte) []byte) *httptest.Server {
	files := map[string][]byte{}
	for _, f := range []string{"tokenizer.json", "config.json", "model.onnx", "idf.json"} {
		data, err := os.ReadFile(filepath.Join(fixture, f))
		if err != nil {
			t.Fatal(err)
		}
		name := f
		if f == "model.onnx" {
			name = "onnx/model.onnx"
		}
		files[name] = data
	}
	files["README.md"] = []byte("not pulled")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			t.Errorf("method %s", r.Method)
		}
		switch {
		case r.URL.Path == "/api/models/test/bert-tiny/tree/main":
			var tree []map[string]any
			for name, data := range files {
				e := map[string]any{"type": "file", "path": name, "size": len(data)}
				if strings.HasSuffix(name, ".onnx") {
					sum := sha256.Sum256(data)
					e["size"] = 135
					e["lfs"] = map[string]any{"oid": hex.EncodeToString(sum[:]), "size": len(data)}
				}
				tree = append(tree, e)
			}
			json.NewEncoder(w).Encode(tree)
		case strings.HasPrefix(r.URL.Path, "/test/bert-tiny/resolve/main/"):
			name := strings.TrimPrefix(r.URL.Path, "/test/bert-tiny/resolve/main/")
			data, ok := files[name]
			if !ok {
				http.NotFound(w, r)
				return
			}
			if tamper != nil {
				data = tamper(name, data)
			}
			w.Write(data)
		case strings.HasPrefix(r.URL.Path, "/api/models/gated/"):
			http.Error(w, "Access to model gated/x is restricted", http.StatusUnauthorized)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestPullFetchesAWorkingModel(t *testing.T) {
	srv := fakeHub(t, nil)
	cache := t.TempDir()
	var pulled []string
	dir, err := (&Client{Endpoint: srv.URL}).Pull(context.Background(), "test/bert-tiny", cache, func(f string, _ int64) { pulled = append(pulled, f) })
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(cache, "test", "bert-tiny") {
		t.Errorf("dir = %s", dir)
	}
	for _, p := range pulled {
		if p == "README.md" {
			t.Error("pulled a file the encoder does not need")
		}
	}
	enc, err := splade.New(dir)
	if err != nil {
		t.Fatalf("pulled model does not load: %v", err)
	}
	enc.Close()
	got, _ := Cached(cache)
	if len(got) != 1 || got[0] != "test/bert-tiny" {
		t.Errorf("Cached = %v", got)
	}
}

func TestPullRefusesBadDownloads(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ref    string
		tamper func(string, []byte) []byte
		want   string
	}{
		{"a Git LFS pointer", "test/bert-tiny", func(p string, d []byte) []byte {
			if p == "config.json" {
				ptr := "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1\n"
				return []byte(ptr + strings.Repeat(" ", len(d)-len(ptr)))
			}
			return d
		}, "Git LFS pointer"},
		{"a truncated file", "test/bert-tiny", func(p string, d []byte) []byte {
			if p == "tokenizer.json" {
				return d[:100]
			}
			return d
		}, "tokenizer.json: got 100 bytes"},
		{"a corrupted LFS file", "test/bert-tiny", func(p string, d []byte) []byte {
			if strings.HasSuffix(p, ".onnx") {
				c := append([]byte(nil), d...)
				c[len(c)/2] ^= 0xff
				return c
			}
			return d
		}, "onnx/model.onnx: sha256"},
		{"an unknown model", "test/nope", nil, "HTTP 404"},
		{"a gated model", "gated/x", nil, "set models.hub_token"},
		{"a malformed reference", "just-a-name", nil, "want ORG/NAME[@REVISION]"},
		{"a path escape", "../etc", nil, "want ORG/NAME"},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			cache := t.TempDir()
			_, err := (&Client{Endpoint: fakeHub(t, tc.tamper).URL}).Pull(context.Background(), tc.ref, cache, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if got, _ := Cached(cache); len(got) != 0 {
				t.Errorf("a failed pull left %v in the cache", got)
			}
		})
	}
}

// serveRepo serves files as repository repo at revision main, every
// .safetensors file as an LFS file.
func serveRepo(t *testing.T, repo string, files map[string][]byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/models/"+repo+"/tree/main":
			var tree []map[string]any
			for name, data := range files {
				e := map[string]any{"type": "file", "path": name, "size": len(data)}
				if strings.HasSuffix(name, ".safetensors") {
					sum := sha256.Sum256(data)
					e["size"] = 135
					e["lfs"] = map[string]any{"oid": hex.EncodeToString(sum[:]), "size": len(data)}
				}
				tree = append(tree, e)
			}
			json.NewEncoder(w).Encode(tree)
		case strings.HasPrefix(r.URL.Path, "/"+repo+"/resolve/main/"):
			data, ok := files[strings.TrimPrefix(r.URL.Path, "/"+repo+"/resolve/main/")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Write(data)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestPullFetchesASafetensorsCheckpoint: a repository with no ONNX graph
// is pulled as its checkpoint, which loads (the graph built in memory).
func TestPullFetchesASafetensorsCheckpoint(t *testing.T) {
	src := t.TempDir()
	size := hftest.Size{Layers: 1, Hidden: 8, Heads: 2, Intermediate: 16, Vocab: 30522, MaxPositions: 64}
	if err := hftest.RandomBERT(src, size, "F16", 3); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"README.md": []byte("not pulled")}
	for _, f := range []string{"config.json", "model.safetensors"} {
		files[f], _ = os.ReadFile(filepath.Join(src, f))
	}
	files["tokenizer.json"], _ = os.ReadFile(filepath.Join(fixture, "tokenizer.json"))
	srv := serveRepo(t, "test/st", files)
	dir, err := (&Client{Endpoint: srv.URL}).Pull(context.Background(), "test/st", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := splade.New(dir)
	if err != nil {
		t.Fatalf("pulled checkpoint does not load: %v", err)
	}
	if info := enc.Info(); info.Checkpoint == "" || !info.BlockedHead {
		t.Errorf("info %+v: want the graph built from the checkpoint with the blocked head", info)
	}
	enc.Close()

	// A sharded checkpoint: the index and its shards, nothing else.
	sharded := map[string][]byte{"config.json": files["config.json"], "tokenizer.json": files["tokenizer.json"],
		"model.safetensors.index.json": []byte(`{"weight_map": {}}`), "model-00001-of-00002.safetensors": []byte("a"),
		"model-00002-of-00002.safetensors": []byte("b"), "other.safetensors": []byte("c")}
	dir, err = (&Client{Endpoint: serveRepo(t, "test/sharded", sharded).URL}).Pull(context.Background(), "test/sharded", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name := range sharded {
		_, err := os.Stat(filepath.Join(dir, name))
		if want := name != "other.safetensors"; (err == nil) != want {
			t.Errorf("%s pulled: %v, want %v", name, err == nil, want)
		}
	}

	delete(files, "model.safetensors")
	_, err = (&Client{Endpoint: serveRepo(t, "test/none", files).URL}).Pull(context.Background(), "test/none", t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "nor a safetensors checkpoint") {
		t.Errorf("no graph, no checkpoint: got %v", err)
	}
}

// TestPullPrefersTheCheckpointWhenAsked: with Client.Checkpoint a
// repository holding both an ONNX graph and a checkpoint gives the
// checkpoint only; one holding only a graph is refused before any file is
// downloaded, naming the graph it has.
func TestPullPrefersTheCheckpointWhenAsked(t *testing.T) {
	src := t.TempDir()
	size := hftest.Size{Layers: 1, Hidden: 8, Heads: 2, Intermediate: 16, Vocab: 30522, MaxPositions: 64}
	if err := hftest.RandomBERT(src, size, "F32", 3); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range []string{"config.json", "model.safetensors"} {
		files[f], _ = os.ReadFile(filepath.Join(src, f))
	}
	files["tokenizer.json"], _ = os.ReadFile(filepath.Join(fixture, "tokenizer.json"))
	files["model.onnx"], _ = os.ReadFile(filepath.Join(fixture, "model.onnx"))
	for _, c := range []struct {
		checkpoint bool
		want, not  string
	}{
		{true, "model.safetensors", "model.onnx"},
		{false, "model.onnx", "model.safetensors"},
	} {
		dir, err := (&Client{Endpoint: serveRepo(t, "test/both", files).URL, Checkpoint: c.checkpoint}).Pull(context.Background(), "test/both", t.TempDir(), nil)
		if err != nil {
			t.Fatalf("Checkpoint %v: %v", c.checkpoint, err)
		}
		if _, err := os.Stat(filepath.Join(dir, c.want)); err != nil {
			t.Errorf("Checkpoint %v: %s not pulled", c.checkpoint, c.want)
		}
		if _, err := os.Stat(filepath.Join(dir, c.not)); err == nil {
			t.Errorf("Checkpoint %v: %s pulled too", c.checkpoint, c.not)
		}
	}

	delete(files, "model.safetensors")
	var downloads int
	inner := serveRepo(t, "test/onnx-only", files)
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/resolve/") {
			downloads++
		}
		http.Redirect(w, r, inner.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(counting.Close)
	_, err := (&Client{Endpoint: counting.URL, Checkpoint: true}).Pull(context.Background(), "test/onnx-only", t.TempDir(), nil)
	if !errors.Is(err, ErrNoCheckpoint) || !strings.Contains(err.Error(), "test/onnx-only@main") || !strings.Contains(err.Error(), "it has only the ONNX graph model.onnx") {
		t.Errorf("only an ONNX graph: got %v, want ErrNoCheckpoint naming the repository and its graph", err)
	}
	if downloads != 0 {
		t.Errorf("%d files downloaded before the refusal, want 0", downloads)
	}
}
