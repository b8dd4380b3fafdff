package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/config"
)

const checkpointFixture = "../splade/testdata/models/hf-bert"

// TestQuantizeKeyPicksTheInt8Graph: vectorizers.NAME.quantize: int8 builds
// the int8 graph of a checkpoint for splade, splade-idf and onnx-dense
// (fp32, and no key, the float one); a directory holding only a float ONNX
// graph, or a model.int8.onnx that is not batch-invariant, is refused with
// the vectorizer's key and the file.
func TestQuantizeKeyPicksTheInt8Graph(t *testing.T) {
	idfDir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} {
		data, err := os.ReadFile(filepath.Join(checkpointFixture, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(idfDir, f), data, 0o644)
	}
	os.WriteFile(filepath.Join(idfDir, "idf.json"), []byte(`{"[UNK]": 1.0, "the": 0.5}`), 0o644)
	cfg := &config.Config{Vectorizers: map[string]config.Vectorizer{
		"sparse8":  {Module: config.ModuleSPLADE, Model: checkpointFixture, Quantize: "int8"},
		"sparse32": {Module: config.ModuleSPLADE, Model: checkpointFixture, Quantize: "fp32"},
		"sparse":   {Module: config.ModuleSPLADE, Model: checkpointFixture},
		"idf8":     {Module: config.ModuleSPLADEIDF, Model: idfDir, Quantize: "int8"},
		"dense8":   {Module: config.ModuleONNXDense, Model: checkpointFixture, Quantize: "int8"},
	}}
	vs, err := NewVectorizers(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, v := range vs {
			v.Close()
		}
	}()
	for name, want := range map[string]string{"sparse8": "int8", "sparse32": "fp32", "sparse": "fp32", "idf8": "int8"} {
		var got string
		switch v := vs[name].(type) {
		case *spladeModule:
			got = v.Info().Quantization
		case *spladeIDF:
			got = v.Info().Quantization
		default:
			t.Fatalf("%s is a %T", name, v)
		}
		if got != want {
			t.Errorf("%s: graph is %s, want %s", name, got, want)
		}
	}
	if got := vs["dense8"].(*onnxDense).Quantization(); got != "int8" {
		t.Errorf("dense8: graph is %s, want int8", got)
	}

	// The fixture directory's model.int8.onnx is quantize_dynamic's, with
	// one activation scale per tensor: refused, not run.
	withFile := &config.Config{Vectorizers: map[string]config.Vectorizer{"learned": {Module: config.ModuleSPLADE, Model: sparseFixture, Quantize: "int8"}}}
	if _, err := NewVectorizers(withFile); err == nil || !strings.Contains(err.Error(), "vectorizers.learned: ") || !strings.Contains(err.Error(), filepath.Join(sparseFixture, "model.int8.onnx")+" quantizes activations with one scale per tensor") {
		t.Errorf("a per-tensor model.int8.onnx: got %v, want an error naming vectorizers.learned and the file", err)
	}

	dir := t.TempDir()
	for _, f := range []string{"tokenizer.json", "config.json", "model.onnx"} {
		data, _ := os.ReadFile(filepath.Join(sparseFixture, f))
		os.WriteFile(filepath.Join(dir, f), data, 0o644)
	}
	onnxOnly := &config.Config{Vectorizers: map[string]config.Vectorizer{"learned": {Module: config.ModuleSPLADE, Model: dir, Quantize: "int8"}}}
	_, err = NewVectorizers(onnxOnly)
	if err == nil || !strings.Contains(err.Error(), "vectorizers.learned: ") || !strings.Contains(err.Error(), filepath.Join(dir, "model.onnx")) {
		t.Errorf("int8 of a float ONNX graph: got %v, want an error naming vectorizers.learned and %s", err, filepath.Join(dir, "model.onnx"))
	}
	bad := &config.Config{Vectorizers: map[string]config.Vectorizer{"learned": {Module: config.ModuleSPLADE, Model: checkpointFixture, Quantize: "int4"}}}
	if _, err := NewVectorizers(bad); err == nil || !strings.Contains(err.Error(), `vectorizers.learned: quantize: quantization "int4"`) {
		t.Errorf("an unvalidated bad name: got %v", err)
	}
}
