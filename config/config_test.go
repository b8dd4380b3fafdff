package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "spladeq.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsAreValid(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, err := Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Qdrant.URL != "embedded://./data/qdrant" || cfg.Search.RRFK != 5 || cfg.Server.RequestTimeout != 30*time.Second {
		t.Errorf("defaults = %+v", cfg)
	}
	if cfg.Vectorizers["sparse"].Module != ModuleSPLADE || cfg.Vectorizers["dense"].Module != ModuleONNXDense {
		t.Errorf("default vectorizers = %+v", cfg.Vectorizers)
	}
}

func TestPrecedenceDefaultsFileEnvFlags(t *testing.T) {
	file := writeFile(t, "qdrant:\n  url: qdrant:6334\n  timeout: 5s\nsearch:\n  limit: 7\n  alpha: 0.25\n")
	t.Setenv("SPLADEQ_SEARCH_LIMIT", "8")
	t.Setenv("SPLADEQ_QDRANT_API_KEY", "from-env")
	t.Setenv("SPLADEQ_SERVER_API_KEYS", "aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbb")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("qdrant-url", "", "")
	fs.Int("limit", 0, "")
	if err := fs.Parse([]string{"--limit", "9"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(LoadOptions{File: file, Flags: fs, FlagKeys: map[string]string{"qdrant-url": "qdrant.url", "limit": "search.limit"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key       string
		got, want any
	}{
		{"qdrant.url from the file (flag not set)", cfg.Qdrant.URL, "qdrant:6334"},
		{"qdrant.timeout from the file", cfg.Qdrant.Timeout, 5 * time.Second},
		{"search.alpha from the file", *cfg.Search.Alpha, 0.25},
		{"search.alpha sets the sparse weight", cfg.Search.Weight(SignalSparse), 0.75},
		{"search.alpha sets the dense weight", cfg.Search.Weight(SignalDense), 0.25},
		{"bm25 keeps its weight beside alpha", cfg.Search.Weight(SignalBM25), 1.0},
		{"search.limit: the flag beats env beats file", cfg.Search.Limit, 9},
		{"qdrant.api_key from env", cfg.Qdrant.APIKey, "from-env"},
		{"server.api_keys: env lists split on commas", len(cfg.Server.APIKeys), 2},
		{"search.mode default", cfg.Search.Mode, "hybrid"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.key, tc.got, tc.want)
		}
	}
}

func TestValidateNamesEveryBadKey(t *testing.T) {
	file := writeFile(t, `
qdrant:
  batch_size: 0
search:
  fusion: magic
  alpha: 2
server:
  listen: nowhere
  tls_cert_file: /etc/spladeq/tls.crt
vectorizers:
  sparse:
    module: splade
    head_block: -2
    output: colbert
  dense:
    module: word2vec
    model: x
  dense2:
    module: onnx-dense
    model: x
    output: token_weights
    quantize: int4
  q1:
    module: splade
    model: x
    quantize: int8
    onnx_file: model.onnx
  q2:
    module: bm25
    quantize: int8
  q3:
    module: onnx-dense
    model: x
    quantize: int8
collection:
  sparse: sparse
  dense: dense
ingest:
  sync: mirror
  max_delete: 1.5
  watch_interval: 0s
  watch_debounce: -1s
`)
	_, err := Load(LoadOptions{File: file})
	if err == nil {
		t.Fatal("Load accepted a bad configuration")
	}
	for _, want := range []string{
		`ingest.sync: must be none, full or scoped, got "mirror"`,
		"ingest.max_delete: must be a fraction in [0, 1], got 1.5",
		"ingest.watch_interval: must be > 0, got 0s",
		"ingest.watch_debounce: must be >= 0, got -1s",
		"qdrant.batch_size: must be >= 1, got 0",
		`search.fusion: must be one of rrf, dbsf, weighted, weighted_rrf, weighted_dbsf, got "magic"`,
		"search.alpha: must be in [0, 1], got 2",
		`server.listen: must be host:port, got "nowhere"`,
		"server.tls_key_file: must be set with server.tls_cert_file (both or neither)",
		"vectorizers.sparse.model: is required for module splade",
		"vectorizers.sparse.head_block: must be > 0, 0 for the default or -1 for off, got -2",
		`vectorizers.dense.module: unknown vectorizer module "word2vec"`,
		`vectorizers.sparse.output: must be auto, logits, pooled, token_weights, got "colbert"`,
		"vectorizers.dense2.output: applies to modules splade and splade-idf only, not onnx-dense",
		`vectorizers.dense2.quantize: must be fp32 or int8, got "int4"`,
		`vectorizers.q1.quantize: int8 and onnx_file "model.onnx" both name the graph: set one of the two`,
		"vectorizers.q2.quantize: applies to modules splade, splade-idf and onnx-dense only, not bm25",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "vectorizers.q3.") {
		t.Errorf("quantize: int8 on onnx-dense is valid, got:\n%v", err)
	}
}

func TestSourceKeysAreValidated(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"an s3 source without a bucket, with a path and half the keys", `
ingest:
  source:
    type: s3
    path: docs/
    endpoint: localhost:9000
    access_key_id: AKIA
    session_token: tok
    anonymous: true
`, []string{
			"ingest.source.bucket: must be set for an s3 source",
			`ingest.source.path: an s3 source reads bucket and prefix, not a path (got "docs/")`,
			`ingest.source.endpoint: must be an http:// or https:// URL, got "localhost:9000"`,
			"ingest.source.access_key_id: and secret_access_key go together (both or neither)",
			"ingest.source.anonymous: sends unsigned requests: it cannot go with access_key_id",
		}},
		{"a bucket given as a URL", "ingest:\n  source:\n    type: s3\n    bucket: s3://docs/kb\n",
			[]string{`ingest.source.bucket: "s3://docs/kb" is not a bucket name`}},
		{"s3 keys on a dir source", "ingest:\n  source:\n    type: dir\n    path: docs\n    bucket: docs\n    region: eu-west-1\n",
			[]string{`ingest.source.bucket: only for an s3 source, and the type is "dir"`, `ingest.source.region: only for an s3 source, and the type is "dir"`}},
		{"a parquet source without a path", "ingest:\n  source:\n    type: parquet\n", []string{"ingest.source.path: must not be empty"}},
		{"an unknown type", "ingest:\n  source:\n    type: sqlite\n    path: x\n", []string{`ingest.source.type: must be jsonl, csv, dir, parquet or s3, got "sqlite"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(LoadOptions{File: writeFile(t, c.yaml)})
			for _, want := range c.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("got %v, want it to say %s", err, want)
				}
			}
		})
	}
	for _, ok := range []string{
		"ingest:\n  source:\n    type: s3\n    bucket: my-docs.eu\n    prefix: kb/\n    endpoint: https://minio.local:9000\n",
		"ingest:\n  source:\n    type: s3\n    bucket: docs\n    access_key_id: AKIA\n    secret_access_key: x\n",
		"ingest:\n  source:\n    type: parquet\n    path: rows.parquet\n",
	} {
		if _, err := Load(LoadOptions{File: writeFile(t, ok)}); err != nil {
			t.Errorf("refused %q: %v", ok, err)
		}
	}
}

func TestUnknownKeysAreRefused(t *testing.T) {
	file := writeFile(t, "qdrant:\n  ulr: x\nvectorizers:\n  s:\n    module: splade\n    model: m\n    modle: typo\n")
	_, err := Load(LoadOptions{File: file})
	for _, want := range []string{`unknown key "qdrant.ulr"`, `unknown key "vectorizers.s.modle"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to say %s", err, want)
		}
	}
}

func TestYAMLThatDoesNotParseNamesTheFile(t *testing.T) {
	file := writeFile(t, "qdrant: [unclosed\n")
	_, err := Load(LoadOptions{File: file})
	if err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("got %v, want an error naming %s", err, file)
	}
}

func TestMaskedHidesSecrets(t *testing.T) {
	cfg := &Config{Qdrant: Qdrant{APIKey: "qdrant-secret"}, Models: Models{HubToken: "hf_secret"},
		Ingest:      Ingest{Source: Source{Type: "s3", AccessKeyID: "AKIAVISIBLE", SecretAccessKey: "s3-secret", SessionToken: "s3-token"}},
		Server:      Server{APIKeys: []string{"write-secret-0000"}, ReadOnlyAPIKeys: []string{"read-secret-00000"}},
		Vectorizers: map[string]Vectorizer{"o": {Module: ModuleOpenAI, APIKey: "sk-secret"}}}
	out, err := cfg.Masked().YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"qdrant-secret", "hf_secret", "write-secret", "read-secret", "sk-secret", "s3-secret", "s3-token"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("masked YAML shows %q:\n%s", secret, out)
		}
	}
	if cfg.Qdrant.APIKey != "qdrant-secret" {
		t.Error("Masked changed the original")
	}
	if !strings.Contains(string(out), "****") {
		t.Errorf("masked YAML does not show that secrets are set:\n%s", out)
	}
}

func TestDefaultsCarryThreeSignals(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, err := Load(LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Vectorizers[DefaultBM25].Module; got != ModuleBM25 {
		t.Errorf("default bm25 vectorizer module = %q, want bm25", got)
	}
	if cfg.Collection.BM25 != "bm25" {
		t.Errorf("collection.bm25 = %q, want bm25", cfg.Collection.BM25)
	}
	if got := strings.Join(cfg.Search.Signals, ","); got != "bm25,sparse,dense" {
		t.Errorf("search.signals = %s, want bm25,sparse,dense", got)
	}
	if cfg.Search.Alpha != nil {
		t.Errorf("search.alpha = %v, want unset", *cfg.Search.Alpha)
	}
	if cfg.Search.Fusion != "weighted_dbsf" || cfg.Search.RRFK != 5 {
		t.Errorf("fusion %s, rrf_k %d, want weighted_dbsf and 5 (the sweep's choice)", cfg.Search.Fusion, cfg.Search.RRFK)
	}
	for s, want := range map[string]float64{SignalBM25: 1, SignalSparse: 1, SignalDense: 2} {
		if w := cfg.Search.Weight(s); w != want {
			t.Errorf("weight of %s = %v, want %v", s, w, want)
		}
	}
}

func TestAConfigurationWithoutBM25GetsTheDefaultOne(t *testing.T) {
	file := writeFile(t, "vectorizers:\n  sparse:\n    module: splade\n    model: m\n  dense:\n    module: onnx-dense\n    model: d\n")
	cfg, err := Load(LoadOptions{File: file})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Vectorizers["bm25"]; got.Module != ModuleBM25 {
		t.Errorf("vectorizers.bm25 = %+v, want the default bm25 module", got)
	}
	file = writeFile(t, "vectorizers:\n  sparse:\n    module: splade\n    model: m\ncollection:\n  dense: none\n  bm25: none\n")
	cfg, err = Load(LoadOptions{File: file})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Vectorizers["bm25"]; ok {
		t.Errorf("collection.bm25 none still added a bm25 vectorizer: %+v", cfg.Vectorizers)
	}
}

func TestWeightsFromTheFileMergeWithTheDefaults(t *testing.T) {
	file := writeFile(t, "search:\n  fusion: weighted\n  signals: [sparse, bm25]\n  weights:\n    bm25: 0.5\n")
	cfg, err := Load(LoadOptions{File: file})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		signal string
		want   float64
	}{{SignalBM25, 0.5}, {SignalSparse, 1}, {SignalDense, 2}} {
		if got := cfg.Search.Weight(tc.signal); got != tc.want {
			t.Errorf("weight of %s = %v, want %v", tc.signal, got, tc.want)
		}
	}
	if got := strings.Join(cfg.Search.Signals, ","); got != "sparse,bm25" {
		t.Errorf("signals = %s, want sparse,bm25", got)
	}
}

func TestBM25AndSignalsAreValidated(t *testing.T) {
	file := writeFile(t, `
vectorizers:
  sparse:
    module: splade
    model: m
    language: english
  words:
    module: bm25
    model: some-model
    language: klingon
    stemmer: latin
    k: -1
    b: 1.5
    avg_len: -3
    tokenizer: ngram
    min_token_len: 9
    max_token_len: 3
    stopwords: [the, " "]
collection:
  sparse: sparse
  dense: none
  bm25: sparse
search:
  mode: words
  signals: [bm25, splade, bm25]
  fusion: weighted
  weights:
    bm25: -1
    tfidf: 2
`)
	_, err := Load(LoadOptions{File: file})
	if err == nil {
		t.Fatal("Load accepted a bad configuration")
	}
	for _, want := range []string{
		`vectorizers.sparse.language: language, stopwords, stemmer, k, b, avg_len, lowercase, ascii_folding, tokenizer and min/max_token_len are options of module bm25, not splade`,
		`vectorizers.words.model: the bm25 module runs no model`,
		`vectorizers.words.language: unknown language "klingon"`,
		`vectorizers.words.stemmer: must be "" (the language's), none, or a Snowball language, got "latin"`,
		`vectorizers.words.k: must be a finite number >= 0 (0: 1.2), got -1`,
		`vectorizers.words.b: must be in [0, 1], got 1.5`,
		`vectorizers.words.avg_len: must be a finite number > 0 (0: 256), got -3`,
		`vectorizers.words.tokenizer: must be one of word, whitespace, prefix, multilingual, got "ngram"`,
		`vectorizers.words.min_token_len: and max_token_len must be >= 0 with min <= max (0: no bound), got 9 and 3`,
		`vectorizers.words.stopwords[1]: must not be empty`,
		`collection.bm25: vectorizer "sparse" is splade, not the bm25 module`,
		`search.mode: must be hybrid, sparse, dense or bm25, got "words"`,
		`search.signals[1]: must be one of bm25, sparse, dense, got "splade"`,
		`search.signals[2]: "bm25" is listed twice`,
		`search.weights.bm25: must be a finite number >= 0, got -1`,
		`search.weights.tfidf: not a signal (want bm25, sparse, dense)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

func TestWeightedFusionNeedsAWeightAboveZero(t *testing.T) {
	file := writeFile(t, "search:\n  fusion: weighted\n  signals: [sparse, bm25]\n  alpha: 1\n  weights: {bm25: 0}\n")
	_, err := Load(LoadOptions{File: file})
	want := "search.weights: the weights of search.signals [sparse bm25] sum to 0"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want it to say %s", err, want)
	}
}

// Without ingest.chunk_tokens the chunks are the sparse model's max_length
// less 2: an overlap as long is refused when the configuration is loaded,
// not at the first document.
func TestChunkOverlapMustFitTheSparseWindow(t *testing.T) {
	for _, c := range []struct {
		ingest, want string
	}{
		{"{}", `ingest.chunk_overlap: must be below the chunks' 30 tokens (ingest.chunk_tokens is 0: vectorizers.sparse.max_length 32 less 2), got 32`},
		{"{chunk_overlap: 29}", ""},
		{"{chunk_tokens: 64}", ""},
	} {
		file := writeFile(t, `
vectorizers:
  sparse: {module: splade, model: x, max_length: 32}
collection: {sparse: sparse, dense: ""}
ingest: `+c.ingest+`
`)
		_, err := Load(LoadOptions{File: file})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("ingest %s: error %q, want %q", c.ingest, got, c.want)
		}
	}
}
