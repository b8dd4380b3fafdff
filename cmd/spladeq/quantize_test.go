package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/splade/hfgraph/hftest"
)

// checkpointDir writes a small random-weight BERT masked-LM checkpoint with
// the fixture tokenizer into a temporary directory.
func checkpointDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	size := hftest.Size{Layers: 2, Hidden: 16, Heads: 2, Intermediate: 32, Vocab: 30522, MaxPositions: 64}
	if err := hftest.RandomBERT(dir, size, "F32", 11); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(fixtureModel, "tokenizer.json"), filepath.Join(dir, "tokenizer.json"))
	return dir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// encodeLines runs `spladeq encode` with args on texts and returns its
// vectors and the graph line it printed on stderr.
func encodeLines(t *testing.T, texts []string, args ...string) ([]encodedLine, string) {
	t.Helper()
	code, out, stderr := spladeq(t, "", append(append([]string{"encode"}, args...), texts...)...)
	if code != 0 {
		t.Fatalf("encode %v: exit %d: %s", args, code, stderr)
	}
	var graph string
	for _, line := range strings.Split(stderr, "\n") {
		if g, ok := strings.CutPrefix(line, "graph: "); ok {
			graph = g
		}
	}
	return decodeLines(t, out), graph
}

// TestConvertQuantizeInt8GivesAModelDirectoryEncodeRuns: `model convert
// --quantize int8` writes DIR/model.int8.onnx, which `encode --quantize
// int8` runs (and plain `encode` does not); --out in another directory
// takes the tokenizer and config along, so that directory runs too, with
// the same vectors.
func TestConvertQuantizeInt8GivesAModelDirectoryEncodeRuns(t *testing.T) {
	dir := checkpointDir(t)
	code, out, stderr := spladeq(t, "", "model", "convert", "--quantize", "int8", dir)
	if want := filepath.Join(dir, "model.int8.onnx"); code != 0 || strings.TrimSpace(out) != want {
		t.Fatalf("convert --quantize int8: exit %d, stdout %q (want %s), stderr %s", code, out, want, stderr)
	}
	if !strings.Contains(stderr, "int8") {
		t.Errorf("convert does not say it built an int8 graph: %s", stderr)
	}
	if code, _, stderr := spladeq(t, "", "model", "convert", "--quantize", "int8", dir); code == 0 || !strings.Contains(stderr, "model.int8.onnx exists; use --force") {
		t.Errorf("second convert: exit %d, stderr %q; want a refusal naming the file and --force", code, stderr)
	}

	texts := []string{"sparse retrieval with learned weights", "a second, somewhat longer text about tar archives"}
	int8Vecs, graph := encodeLines(t, texts, "--model", dir, "--quantize", "int8")
	if want := filepath.Join(dir, "model.int8.onnx") + " (int8)"; graph != want {
		t.Errorf("encode --quantize int8 runs %q, want %q", graph, want)
	}
	fp32Vecs, graph := encodeLines(t, texts, "--model", dir)
	if !strings.HasSuffix(graph, "built in memory (fp32)") {
		t.Errorf("encode without --quantize runs %q, want the checkpoint at fp32", graph)
	}
	if reflect.DeepEqual(int8Vecs, fp32Vecs) {
		t.Error("int8 and fp32 vectors are identical: the int8 graph did not run")
	}

	other := filepath.Join(t.TempDir(), "int8-model")
	os.MkdirAll(other, 0o755)
	if code, _, stderr := spladeq(t, "", "model", "convert", "--quantize", "int8", "--out", filepath.Join(other, "model.onnx"), dir); code != 0 {
		t.Fatalf("convert --out: exit %d: %s", code, stderr)
	}
	for _, f := range []string{"tokenizer.json", "config.json"} {
		if _, err := os.Stat(filepath.Join(other, f)); err != nil {
			t.Errorf("--out directory lacks %s: %v", f, err)
		}
	}
	moved, graph := encodeLines(t, texts, "--model", other)
	if want := filepath.Join(other, "model.onnx") + " (int8)"; graph != want {
		t.Errorf("the --out directory runs %q, want %q", graph, want)
	}
	if !reflect.DeepEqual(moved, int8Vecs) {
		t.Errorf("the --out directory's vectors differ from DIR/model.int8.onnx's:\n%v\n%v", moved, int8Vecs)
	}
}

// TestQuantizeErrorsNameWhatIsWrong: every way to ask for int8 of
// something that cannot give it fails with the file, key or flag named.
func TestQuantizeErrorsNameWhatIsWrong(t *testing.T) {
	onnxOnly := t.TempDir() // a float ONNX graph, no checkpoint
	for _, f := range []string{"tokenizer.json", "config.json", "model.onnx"} {
		copyFile(t, filepath.Join(fixtureModel, f), filepath.Join(onnxOnly, f))
	}
	quantized := t.TempDir() // an ONNX graph already quantized (ORT's quantize_dynamic), no checkpoint
	copyFile(t, filepath.Join(fixtureModel, "tokenizer.json"), filepath.Join(quantized, "tokenizer.json"))
	copyFile(t, filepath.Join(fixtureModel, "model.int8.onnx"), filepath.Join(quantized, "model.onnx"))
	notInt8 := checkpointDir(t) // model.int8.onnx that is a float graph
	copyFile(t, filepath.Join(fixtureModel, "model.onnx"), filepath.Join(notInt8, "model.int8.onnx"))
	gpt := checkpointDir(t) // an architecture the builder does not know
	cfgData, _ := os.ReadFile(filepath.Join(gpt, "config.json"))
	os.WriteFile(filepath.Join(gpt, "config.json"), []byte(strings.Replace(string(cfgData), "BertForMaskedLM", "GPT2LMHeadModel", 1)), 0o644)

	cfgFile := filepath.Join(t.TempDir(), "spladeq.yaml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("vectorizers:\n  sparse: {module: splade, model: %q, onnx_file: model.onnx}\ncollection: {dense: \"\"}\n", onnxOnly)), 0o644)
	dataset, _ := filepath.Abs("../../examples/beir-sample")

	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"an unknown quantization", []string{"model", "convert", "--quantize", "int4", checkpointDir(t)}, []string{`--quantize: quantization "int4": want one of fp32, int8`}},
		{"convert of a float ONNX graph", []string{"model", "convert", "--quantize", "int8", onnxOnly}, []string{onnxOnly + " has no safetensors checkpoint", filepath.Join(onnxOnly, "model.onnx") + " is an ONNX graph"}},
		{"convert of an already quantized graph", []string{"model", "convert", "--quantize", "int8", quantized}, []string{filepath.Join(quantized, "model.onnx") + " is already quantized (it has ", "nodes)"}},
		{"convert of an unknown architecture", []string{"model", "convert", "--quantize", "int8", gpt}, []string{"GPT2LMHeadModel", "config.json"}},
		{"encode of a float ONNX graph at int8", []string{"encode", "--model", onnxOnly, "--quantize", "int8", "x"}, []string{filepath.Join(onnxOnly, "model.onnx")}},
		{"encode of an already quantized graph at int8", []string{"encode", "--model", quantized, "--quantize", "int8", "x"}, []string{filepath.Join(quantized, "model.onnx") + " is already quantized"}},
		{"encode of a model.int8.onnx that is float", []string{"encode", "--model", notInt8, "--quantize", "int8", "x"}, []string{filepath.Join(notInt8, "model.int8.onnx") + " has no quantized nodes"}},
		{"encode with an unknown quantization", []string{"encode", "--model", notInt8, "--quantize", "fp16", "x"}, []string{`--quantize: quantization "fp16"`}},
		{"bench with an unknown quantization", []string{"bench", "--model", notInt8, "--quantize", "int4", "--docs", "0"}, []string{`--quantize: quantization "int4"`}},
		{"eval --quantize over a vectorizer naming its graph", []string{"eval", "--config", cfgFile, "--dataset", dataset, "--quantize", "int8"}, []string{`vectorizers.sparse names its graph (onnx_file "model.onnx")`}},
		{"eval --quantize with a bad name", []string{"eval", "--config", cfgFile, "--dataset", dataset, "--quantize", "int4"}, []string{`--quantize: must be fp32 or int8, got "int4"`}},
		{"eval --compare-quantize with --sweep", []string{"eval", "--config", cfgFile, "--dataset", dataset, "--compare-quantize", "--sweep"}, []string{"--compare-quantize", "drop --quantize and --sweep"}},
	} {
		code, _, stderr := spladeq(t, "", c.args...)
		if code == 0 {
			t.Errorf("%s: exit 0, want a failure", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr does not say %q:\n%s", c.name, w, stderr)
			}
		}
	}
}

// TestModelPullQuantizeInt8 serves a repository with both an ONNX graph
// and a checkpoint: `pull --quantize int8` fetches the checkpoint, writes
// its int8 graph, and prints a configuration (quantize: int8) that loads
// and runs that graph; a repository with only an ONNX graph is refused
// naming it, and one whose architecture cannot be built says so after the
// pull.
func TestModelPullQuantizeInt8(t *testing.T) {
	ck := checkpointDir(t)
	files := map[string][]byte{}
	for _, f := range []string{"tokenizer.json", "config.json", "model.safetensors"} {
		files[f], _ = os.ReadFile(filepath.Join(ck, f))
	}
	files["model.onnx"], _ = os.ReadFile(filepath.Join(fixtureModel, "model.onnx"))
	models := t.TempDir()
	code, out, stderr := spladeq(t, "", "model", "pull", "--hub-url", fakeHub(t, "test/both", files), "--models-dir", models, "--quantize", "int8", "test/both")
	if code != 0 {
		t.Fatalf("pull --quantize int8: exit %d: %s", code, stderr)
	}
	dir := filepath.Join(models, "test", "both")
	for name, want := range map[string]bool{"model.safetensors": true, "model.int8.onnx": true, "model.onnx": false} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s present: %v, want %v", name, err == nil, want)
		}
	}
	file := filepath.Join(t.TempDir(), "spladeq.yaml")
	os.WriteFile(file, []byte(out), 0o644)
	cfg, err := config.Load(config.LoadOptions{File: file})
	if err != nil {
		t.Fatalf("the printed configuration does not load: %v\n%s", err, out)
	}
	if v := cfg.Vectorizers["sparse"]; v.Quantize != "int8" || v.Model != dir {
		t.Errorf("printed vectorizer: %+v, want quantize int8 on %s\n%s", v, dir, out)
	}
	if _, graph := encodeLines(t, []string{"x"}, "--model", dir, "--quantize", "int8"); graph != filepath.Join(dir, "model.int8.onnx")+" (int8)" {
		t.Errorf("the pulled directory runs %q at int8", graph)
	}

	onnxOnly := map[string][]byte{"tokenizer.json": files["tokenizer.json"], "config.json": files["config.json"], "model.onnx": files["model.onnx"]}
	code, _, stderr = spladeq(t, "", "model", "pull", "--hub-url", fakeHub(t, "test/onnx", onnxOnly), "--models-dir", models, "--quantize", "int8", "test/onnx")
	if code == 0 || !strings.Contains(stderr, "test/onnx@main: no safetensors checkpoint") || !strings.Contains(stderr, "it has only the ONNX graph model.onnx") {
		t.Errorf("pull --quantize int8 of an ONNX-only repository: exit %d, stderr %s", code, stderr)
	}

	gpt := map[string][]byte{"tokenizer.json": files["tokenizer.json"], "model.safetensors": files["model.safetensors"],
		"config.json": []byte(strings.Replace(string(files["config.json"]), "BertForMaskedLM", "GPT2LMHeadModel", 1))}
	code, _, stderr = spladeq(t, "", "model", "pull", "--hub-url", fakeHub(t, "test/gpt", gpt), "--models-dir", models, "--quantize", "int8", "test/gpt")
	if code == 0 || !strings.Contains(stderr, "pulled test/gpt to "+filepath.Join(models, "test", "gpt")+", but its int8 graph cannot be built") || !strings.Contains(stderr, "GPT2LMHeadModel") {
		t.Errorf("pull --quantize int8 of an unknown architecture: exit %d, stderr %s", code, stderr)
	}
}

// TestEvalCompareQuantize runs `eval --compare-quantize` on the committed
// sample dataset with random-weight checkpoints (the graphs built at load,
// fp32 then int8): the report pairs the default search, sparse and dense
// at both, its agreement covers every document, and the int8 run's vectors
// are not the fp32 ones (the int8 graphs ran).
func TestEvalCompareQuantize(t *testing.T) {
	root, _ := filepath.Abs("../..")
	sparse := filepath.Join(root, "splade", "testdata", "models", "hf-bert")
	dense := filepath.Join(root, "splade", "testdata", "models", "hf-distilbert")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "eval.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
qdrant: {url: "embedded://%s"}
vectorizers:
  sparse: {module: splade, model: %q}
  dense: {module: onnx-dense, model: %q}
`, filepath.Join(dir, "store"), sparse, dense)), 0o644)
	t.Chdir(dir)
	code, out, stderr := spladeq(t, "", "eval", "--config", cfg, "--dataset", filepath.Join(root, "examples", "beir-sample"), "--compare-quantize", "--out", "compare.json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"int8 vs fp32, 240 points", "sparse top-10 term overlap per document: mean", "dense cosine per document: mean",
		"* bm25+sparse+dense weighted_dbsf bm25=1 sparse=1 dense=2", "goal: mean top-10 overlap >= 0.95: "} {
		if !strings.Contains(out, want) {
			t.Errorf("the comparison lacks %q:\n%s", want, out)
		}
	}
	var rep struct {
		Results []struct {
			Name    string  `json:"name"`
			Base    float64 `json:"ndcg_at_10_baseline"`
			Variant float64 `json:"ndcg_at_10_variant"`
			Loss    float64 `json:"loss_points"`
		} `json:"results"`
		Agreement struct {
			Documents   int `json:"documents"`
			DenseCosine struct {
				Min float64 `json:"min"`
			} `json:"dense_cosine"`
			PerDocument []struct {
				ID string `json:"id"`
			} `json:"per_document"`
		} `json:"agreement"`
	}
	data, err := os.ReadFile("compare.json")
	if err != nil || json.Unmarshal(data, &rep) != nil {
		t.Fatalf("compare.json: %v\n%s", err, data)
	}
	var names []string
	for _, r := range rep.Results {
		names = append(names, r.Name)
		if d := (r.Base - r.Variant) * 100; d-r.Loss > 1e-9 || r.Loss-d > 1e-9 {
			t.Errorf("%s: loss %v points, want (%v - %v) x 100", r.Name, r.Loss, r.Base, r.Variant)
		}
	}
	if want := []string{"bm25+sparse+dense weighted_dbsf bm25=1 sparse=1 dense=2", "sparse", "dense"}; !reflect.DeepEqual(names, want) {
		t.Errorf("settings compared: %v, want %v", names, want)
	}
	a := rep.Agreement
	if a.Documents != 240 || len(a.PerDocument) != 240 {
		t.Errorf("agreement over %d documents (%d listed), want 240", a.Documents, len(a.PerDocument))
	}
	if !(a.DenseCosine.Min > 0.5 && a.DenseCosine.Min < 1-1e-6) {
		t.Errorf("dense cosine min %v: want the int8 vectors near the fp32 ones but not equal", a.DenseCosine.Min)
	}
	var anyRep any
	json.Unmarshal(data, &anyRep)
	if bad := nonSnakeKeys(anyRep, ""); len(bad) > 0 {
		t.Errorf("compare.json keys not in snake_case: %v", bad)
	}
}
