package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/splade"
)

func TestCatalogueEntriesAreCompleteAndConsistent(t *testing.T) {
	pullable := append(append(append([]string(nil), wanted...), onnxCandidates...), checkpointFile, checkpointIndex)
	for _, k := range Catalogue {
		t.Run(k.Name, func(t *testing.T) {
			bad := func(format string, args ...any) { t.Errorf(format, args...) }
			if _, _, err := Ref(k.Name); err != nil {
				bad("name: %v", err)
			}
			if k.Architecture == "" || k.License == "" {
				bad("architecture %q, licence %q: both are required", k.Architecture, k.License)
			}
			if k.License != "unknown" && k.LicenseSource == "" {
				bad("licence %s without a source", k.License)
			}
			if strings.Contains(k.License, "NC") && !strings.Contains(k.Note, "non-commercial") {
				bad("a non-commercial licence not said in the note: %q", k.Note)
			}
			if k.Gated && !strings.Contains(k.Note, "models.hub_token") {
				bad("gated, but the note does not say to set models.hub_token")
			}
			switch k.Output {
			case "logits":
				if !strings.HasSuffix(k.Architecture, "ForMaskedLM") {
					bad("output logits from %s, which has no masked-LM head", k.Architecture)
				}
			case "token_weights":
				if strings.HasSuffix(k.Architecture, "ForMaskedLM") {
					bad("output token_weights from a masked-LM %s", k.Architecture)
				}
			default:
				bad("output %q: want logits or token_weights", k.Output)
			}
			if !slices.Contains(config.OutputKinds, k.Output) {
				bad("output %q is not a value config accepts (%v)", k.Output, config.OutputKinds)
			}
			hasIDF := slices.Contains(k.Files, "idf.json")
			switch k.Mode {
			case DocOnly:
				if k.Module() != config.ModuleSPLADEIDF || (k.Pullable() && !hasIDF) {
					bad("doc-only: module %s, idf.json pulled %v; want splade-idf and idf.json", k.Module(), hasIDF)
				}
				if k.QdrantIDF {
					bad("doc-only with idf.json: the query weights are the IDF, Qdrant's modifier would count it twice")
				}
			case BiEncoder:
				if k.Module() != config.ModuleSPLADE || hasIDF {
					bad("bi-encoder: module %s, idf.json pulled %v; want splade and no idf.json", k.Module(), hasIDF)
				}
			default:
				bad("mode %q: want %s or %s", k.Mode, BiEncoder, DocOnly)
			}
			if k.QueryMaxLength < 2 || k.MaxLength < 0 {
				bad("query max length %d, max length %d", k.QueryMaxLength, k.MaxLength)
			}
			for _, f := range k.Files {
				if !slices.Contains(pullable, f) {
					bad("file %s is not one a pull fetches", f)
				}
			}
			switch k.Weights {
			case WeightsONNX:
				if !slices.ContainsFunc(k.Files, func(f string) bool { return slices.Contains(onnxCandidates, f) }) {
					bad("weights onnx but no ONNX graph among %v", k.Files)
				}
			case WeightsSafetensors:
				if !slices.Contains(k.Files, checkpointFile) && !slices.Contains(k.Files, checkpointIndex) {
					bad("weights safetensors but no checkpoint among %v", k.Files)
				}
			case WeightsExport:
				if len(k.Files) != 0 || !strings.Contains(k.Note, "export") {
					bad("to be exported: want no files and a note that says how, got %v, %q", k.Files, k.Note)
				}
			default:
				bad("weights %q", k.Weights)
			}
			if k.Pullable() && !slices.Contains(k.Files, "tokenizer.json") {
				bad("pullable without tokenizer.json")
			}
		})
	}
	for _, name := range []string{"naver/splade-v3", "naver/splade-cocondenser-ensembledistil", "naver/splade_v2_distil",
		"prithivida/Splade_PP_en_v1", "opensearch-project/opensearch-neural-sparse-encoding-doc-v2-distill",
		"opensearch-project/opensearch-neural-sparse-encoding-doc-v3-distill", "opensearch-project/opensearch-neural-sparse-encoding-v2-distill",
		"ibm-granite/granite-embedding-30m-sparse", "BAAI/bge-m3"} {
		if _, ok := Lookup(name); !ok {
			t.Errorf("%s is not in the catalogue", name)
		}
	}
	if !sort.SliceIsSorted(Catalogue, func(i, j int) bool { return strings.ToLower(Catalogue[i].Name) < strings.ToLower(Catalogue[j].Name) }) {
		t.Error("the catalogue is not sorted by name")
	}
	if _, ok := Lookup("NAVER/SPLADE-V3@main"); !ok {
		t.Error("Lookup is not case-insensitive or does not ignore the revision")
	}
}

// repoHub serves repos (name → path → bytes) as a HuggingFace-compatible
// hub; files ending in .onnx or .safetensors are listed as LFS files.
func repoHub(t *testing.T, repos map[string]map[string][]byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			t.Errorf("method %s", r.Method)
		}
		for repo, files := range repos {
			if r.URL.Path == "/api/models/"+repo+"/tree/main" {
				var tree []map[string]any
				for name, data := range files {
					e := map[string]any{"type": "file", "path": name, "size": len(data)}
					if strings.HasSuffix(name, ".onnx") || strings.HasSuffix(name, ".safetensors") {
						sum := sha256.Sum256(data)
						e["size"] = 135
						e["lfs"] = map[string]any{"oid": hex.EncodeToString(sum[:]), "size": len(data)}
					}
					tree = append(tree, e)
				}
				json.NewEncoder(w).Encode(tree)
				return
			}
			if name, ok := strings.CutPrefix(r.URL.Path, "/"+repo+"/resolve/main/"); ok {
				if data, ok := files[name]; ok {
					w.Write(data)
					return
				}
			}
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// dirFiles reads the named files of a fixture directory; as maps a file
// to the name it is served under.
func dirFiles(t *testing.T, dir string, as map[string]string, names ...string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{"README.md": []byte("not pulled")}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if a, ok := as[n]; ok {
			n = a
		}
		out[n] = data
	}
	return out
}

const tokenWeightsFixture = "../../splade/testdata/models/xlmr-token-weights-tiny"

func TestPullPrintsAConfigurationThatLoadsAndEncodes(t *testing.T) {
	bert := func(withIDF bool) map[string][]byte {
		names := []string{"tokenizer.json", "config.json", "model.onnx"}
		if withIDF {
			names = append(names, "idf.json")
		}
		return dirFiles(t, fixture, nil, names...)
	}
	const docOnly = "opensearch-project/opensearch-neural-sparse-encoding-doc-v2-distill"
	const biEncoder = "naver/splade-cocondenser-ensembledistil"
	const docOnlyV3 = "opensearch-project/opensearch-neural-sparse-encoding-doc-v3-distill"
	srv := repoHub(t, map[string]map[string][]byte{
		docOnly:             bert(true),
		biEncoder:           bert(true), // idf.json present, but the catalogue says bi-encoder
		"someone/mlm-idf":   bert(true),
		docOnlyV3:           bert(false),
		"BAAI/bge-m3":       dirFiles(t, tokenWeightsFixture, map[string]string{"onnx/model.onnx": "model.onnx"}, "tokenizer.json", "config.json", "onnx/model.onnx"),
		"someone/bge-m3-3h": dirFiles(t, tokenWeightsFixture, map[string]string{"onnx/model.onnx": "model.onnx"}, "tokenizer.json", "config.json", "tokenizer_config.json", "special_tokens_map.json", "onnx/model.onnx"),
	})
	for _, tc := range []struct {
		name, ref  string
		module     string
		output     string
		queryLen   int
		known      bool
		wantInYAML []string
	}{
		{"a doc-only catalogue model is configured as splade-idf without Qdrant's IDF", docOnly, config.ModuleSPLADEIDF, "logits", 512, true,
			[]string{"licence Apache-2.0", "idf: false", "count the IDF twice"}},
		{"a bi-encoder catalogue model is configured as splade with its query length and licence", biEncoder, config.ModuleSPLADE, "logits", 64, true,
			[]string{"licence CC-BY-NC-SA-4.0", "non-commercial"}},
		{"a doc-only catalogue model pulled without idf.json falls back to splade and says so", docOnlyV3, config.ModuleSPLADE, "logits", 0, true,
			[]string{"WARNING", "found no idf.json"}},
		{"a catalogue model that must be exported first is configured from its files, with the warning", "BAAI/bge-m3", config.ModuleSPLADE, "", 64, true,
			[]string{"WARNING: BAAI/bge-m3 does not load as pulled", "three-head"}},
		{"a model outside the catalogue with idf.json is configured as doc-only", "someone/mlm-idf", config.ModuleSPLADEIDF, "logits", 0, false,
			[]string{"not in spladeq's catalogue", "doc-only"}},
		{"a token-weight export outside the catalogue leaves the output kind to the encoder", "someone/bge-m3-3h", config.ModuleSPLADE, "", 0, false,
			[]string{"XLMRobertaModel"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			dir, err := (&Client{Endpoint: srv.URL}).Pull(context.Background(), tc.ref, cache, nil)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Suggest(tc.ref, dir)
			if err != nil {
				t.Fatal(err)
			}
			if (s.Known != nil) != tc.known {
				t.Errorf("catalogue entry found %v, want %v", s.Known != nil, tc.known)
			}
			yml := s.YAML("sparse")
			for _, want := range tc.wantInYAML {
				if !strings.Contains(yml, want) {
					t.Errorf("the printed configuration does not say %q:\n%s", want, yml)
				}
			}
			file := filepath.Join(t.TempDir(), "spladeq.yaml")
			if err := os.WriteFile(file, []byte(yml), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(config.LoadOptions{File: file})
			if err != nil {
				t.Fatalf("the printed configuration does not load: %v\n%s", err, yml)
			}
			v := cfg.Vectorizers["sparse"]
			if v.Module != tc.module || v.Output != tc.output || v.QueryMaxLength != tc.queryLen || v.Model != dir {
				t.Errorf("vectorizer %+v; want module %s, output %q, query max length %d, model %s", v, tc.module, tc.output, tc.queryLen, dir)
			}
			if cfg.Collection.Sparse != "sparse" || cfg.Collection.Dense != "" || cfg.Collection.IDF {
				t.Errorf("collection %+v: want sparse-only on vectorizer sparse, no IDF modifier", cfg.Collection)
			}
			vecs, err := plugin.NewVectorizers(cfg)
			if err != nil {
				t.Fatalf("the printed configuration does not build its vectorizer: %v", err)
			}
			defer vecs["sparse"].Close()
			sp, ok := vecs["sparse"].(plugin.Sparse)
			if !ok {
				t.Fatalf("vectorizer is %T, not sparse", vecs["sparse"])
			}
			for _, enc := range []func(context.Context, []string) ([]splade.SparseVector, error){sp.EncodeDocuments, sp.EncodeQueries} {
				out, err := enc(context.Background(), []string{"the quick brown fox"})
				if err != nil || len(out) != 1 || len(out[0].Indices) == 0 {
					t.Fatalf("encode: %v, %v", out, err)
				}
			}
		})
	}
}

func TestSuggestionForACheckpointSaysTheGraphIsBuilt(t *testing.T) {
	files := dirFiles(t, fixture, nil, "tokenizer.json", "config.json")
	files[checkpointFile] = []byte("weights")
	srv := repoHub(t, map[string]map[string][]byte{"t/single": files})
	dir, err := (&Client{Endpoint: srv.URL}).Pull(context.Background(), "t/single", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Suggest("t/single", dir)
	if err != nil {
		t.Fatal(err)
	}
	if yml := s.YAML("sparse"); !strings.Contains(yml, "safetensors checkpoint") || !strings.Contains(yml, "output: logits") {
		t.Errorf("the printed configuration does not say the graph is built from the checkpoint:\n%s", yml)
	}
}
