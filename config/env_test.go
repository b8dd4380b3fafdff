package config

import (
	"strings"
	"testing"
)

// TestEveryKindOfKeyComesFromTheEnvironment: lists, durations, unset
// pointers, weights and the keys of the vectorizers (which live in a map
// whose names the file or the defaults choose) all take SPLADEQ_* values.
func TestEveryKindOfKeyComesFromTheEnvironment(t *testing.T) {
	t.Chdir(t.TempDir())
	for k, v := range map[string]string{
		"SPLADEQ_COLLECTION_ON_DISK_PAYLOAD":   "false",
		"SPLADEQ_SEARCH_WEIGHTS_BM25":          "0.5",
		"SPLADEQ_SEARCH_WEIGHTS_SPARSE":        "3",
		"SPLADEQ_INGEST_SOURCE_INCLUDE":        "*.txt,*.rst",
		"SPLADEQ_QDRANT_TIMEOUT":               "3s",
		"SPLADEQ_VECTORIZERS_SPARSE_TOP_K":     "7",
		"SPLADEQ_VECTORIZERS_SPARSE_MODEL":     "/models/other",
		"SPLADEQ_VECTORIZERS_DENSE_NORMALIZE":  "false",
		"SPLADEQ_VECTORIZERS_BM25_STOPWORDS":   "foo,bar",
		"SPLADEQ_VECTORIZERS_BM25_B":           "0.5",
		"SPLADEQ_VECTORIZERS_DENSE_MAX_LENGTH": "128",
	} {
		t.Setenv(k, v)
	}
	cfg, err := Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sp, de, bm := cfg.Vectorizers["sparse"], cfg.Vectorizers["dense"], cfg.Vectorizers["bm25"]
	for _, tc := range []struct {
		key       string
		got, want any
	}{
		{"collection.on_disk_payload", cfg.Collection.OnDiskPayload != nil && !*cfg.Collection.OnDiskPayload, true},
		{"search.weights bm25", cfg.Search.Weight(SignalBM25), 0.5},
		{"search.weights sparse", cfg.Search.Weight(SignalSparse), 3.0},
		{"search.weights dense keeps its default", cfg.Search.Weight(SignalDense), 2.0},
		{"ingest.source.include", strings.Join(cfg.Ingest.Source.Include, " "), "*.txt *.rst"},
		{"qdrant.timeout", cfg.Qdrant.Timeout.String(), "3s"},
		{"vectorizers.sparse.top_k", sp.TopK, 7},
		{"vectorizers.sparse.model", sp.Model, "/models/other"},
		{"vectorizers.sparse.module stays", sp.Module, ModuleSPLADE},
		{"vectorizers.dense.normalize", de.Normalize != nil && !*de.Normalize, true},
		{"vectorizers.dense.max_length", de.MaxLength, 128},
		{"vectorizers.bm25.stopwords", strings.Join(bm.Stopwords, " "), "foo bar"},
		{"vectorizers.bm25.b", bm.B != nil && *bm.B == 0.5, true},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.key, tc.got, tc.want)
		}
	}
}

// TestVectorizersFromTheEnvironmentFollowTheFile: the names are the ones
// the file defines, and a variable naming no defined vectorizer and key is
// refused with its name, never ignored.
func TestVectorizersFromTheEnvironmentFollowTheFile(t *testing.T) {
	file := writeFile(t, "vectorizers:\n  my-splade:\n    module: splade\n    model: a\n  dense:\n    module: onnx-dense\n    model: b\ncollection:\n  sparse: my-splade\n")
	t.Setenv("SPLADEQ_VECTORIZERS_MY_SPLADE_QUERY_MAX_LENGTH", "48")
	cfg, err := Load(LoadOptions{File: file})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Vectorizers["my-splade"].QueryMaxLength; got != 48 {
		t.Errorf("vectorizers.my-splade.query_max_length = %d, want 48", got)
	}
	for _, bad := range []string{"SPLADEQ_VECTORIZERS_SPARSE_MODEL", "SPLADEQ_VECTORIZERS_DENSE_MODLE"} {
		t.Run(bad, func(t *testing.T) {
			t.Setenv(bad, "x")
			_, err := Load(LoadOptions{File: file})
			if err == nil || !strings.Contains(err.Error(), bad) {
				t.Errorf("got %v, want an error naming %s", err, bad)
			}
		})
	}
	t.Setenv("SPLADEQ_VECTORIZERS_DENSE_MAX_LENGTH", "many")
	if _, err := Load(LoadOptions{File: file}); err == nil || !strings.Contains(err.Error(), "vectorizers.dense.max_length") {
		t.Errorf("a value that does not parse: got %v, want an error naming the key", err)
	}
}

// TestAVariableNamingASectionIsRefused: SPLADEQ_SEARCH_WEIGHTS would hide
// search.weights.bm25 and the others from viper, putting every weight back
// to 1 without a word; it is refused, naming the keys to set instead.
func TestAVariableNamingASectionIsRefused(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, name := range []string{"SPLADEQ_SEARCH_WEIGHTS", "SPLADEQ_INGEST_SOURCE", "SPLADEQ_SERVER", "SPLADEQ_VECTORIZERS"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, "x")
			if _, err := Load(LoadOptions{}); err == nil || !strings.Contains(err.Error(), name+" names the section") {
				t.Errorf("got %v, want an error naming %s", err, name)
			}
		})
	}
}
