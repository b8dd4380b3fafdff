package hfgraph

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/splade/hfgraph/hftest"
)

var tiny = hftest.Size{Layers: 2, Hidden: 8, Heads: 2, Intermediate: 16, Vocab: 50, MaxPositions: 16}

func tinyDir(t *testing.T, dtype string) string {
	t.Helper()
	dir := t.TempDir()
	if err := hftest.RandomBERT(dir, tiny, dtype, 1); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestHalfFloatsDecodeLikeArithmetic(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		got, want := halfToFloat(uint16(h)), hftest.FromF16(uint16(h))
		if math.IsNaN(float64(want)) != math.IsNaN(float64(got)) || (!math.IsNaN(float64(want)) && math.Float32bits(got) != math.Float32bits(want)) {
			t.Fatalf("halfToFloat(%#04x) = %v, want %v", h, got, want)
		}
	}
	for _, x := range []float32{0, 1, -2.5, 65504, 6.1035156e-05, 5.9604645e-08, 0.1} {
		if got := hftest.FromF16(hftest.F16(x)); math.Abs(float64(got-x)) > math.Abs(float64(x))/1024 {
			t.Errorf("F16 round trip of %v = %v", x, got)
		}
	}
}

// TestWidenedWeightsEqualTheStoredValues reads one tensor of each dtype and
// checks every element against the value the writer rounded to.
func TestWidenedWeightsEqualTheStoredValues(t *testing.T) {
	vals := []float32{0, 1, -1, 0.1, 3.14159, -65504, 1e-6, 2.5e-8, 123.456, -0.0001}
	for _, dtype := range []string{"F32", "F16", "BF16"} {
		for _, transpose := range []bool{false, true} {
			path := filepath.Join(t.TempDir(), "model.safetensors")
			if err := hftest.WriteSafetensors(path, []hftest.Tensor{{Name: "w", Dtype: dtype, Shape: []int{2, 5}, Values: vals}}); err != nil {
				t.Fatal(err)
			}
			ck, err := OpenCheckpoint(path)
			if err != nil {
				t.Fatal(err)
			}
			raw, fill, err := ck.floatTensor("w", []int{2, 5}, transpose)
			if err != nil {
				t.Fatal(err)
			}
			if fill != nil {
				raw = make([]byte, 40)
				fill(raw)
			}
			for r := 0; r < 2; r++ {
				for c := 0; c < 5; c++ {
					i := r*5 + c
					if transpose {
						i = c*2 + r
					}
					got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
					if want := hftest.Rounded(vals[r*5+c], dtype); got != want {
						t.Errorf("%s transpose=%v [%d,%d]: got %v, want %v", dtype, transpose, r, c, got, want)
					}
				}
			}
		}
	}
}

func TestBuildsEachHead(t *testing.T) {
	dir := tinyDir(t, "F32")
	for _, tc := range []struct {
		opts   Options
		output string
		inputs int
	}{
		{Options{Head: Logits}, LogitsOutput, 3},
		{Options{Head: MaxLogits, Block: 16}, MaxLogitsOutput, 3},
		{Options{Head: Hidden}, HiddenOutput, 3},
	} {
		if _, err := Build(dir, Options{Head: Hidden, Opset: 11}); err == nil {
			t.Error("opset 11 built")
		}
		if g, err := Build(dir, Options{Head: Hidden, Opset: 17}); err != nil || !bytes.Contains(g.Model, []byte("LayerNormalization")) {
			t.Errorf("opset 17: %v, or no LayerNormalization op", err)
		}
		g, err := Build(dir, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if g.Output != tc.output || len(g.Inputs) != tc.inputs || g.Vocab != tiny.Vocab || g.Hidden != tiny.Hidden || g.Architecture != "BertForMaskedLM" {
			t.Errorf("%+v: got output %s inputs %v vocab %d hidden %d arch %s", tc.opts, g.Output, g.Inputs, g.Vocab, g.Hidden, g.Architecture)
		}
		if !bytes.Contains(g.Model, []byte("ReduceMean")) || bytes.Contains(g.Model, []byte("LayerNormalization")) {
			t.Errorf("%+v: LayerNorm not decomposed at opset 12", tc.opts)
		}
	}
}

// TestShardedCheckpointBuildsTheSameGraph splits a checkpoint in two shards
// with an index: the graph must be byte for byte the one-file graph.
func TestShardedCheckpointBuildsTheSameGraph(t *testing.T) {
	dir := tinyDir(t, "F32")
	want, err := Build(dir, Options{Head: Logits})
	if err != nil {
		t.Fatal(err)
	}
	ck, err := OpenCheckpoint(filepath.Join(dir, SafetensorsFile))
	if err != nil {
		t.Fatal(err)
	}
	shards := [2][]hftest.Tensor{}
	weightMap := map[string]string{}
	i := 0
	for name, st := range ck.tensors {
		vals := make([]float32, len(st.data)/4)
		for k := range vals {
			vals[k] = math.Float32frombits(binary.LittleEndian.Uint32(st.data[4*k:]))
		}
		shards[i%2] = append(shards[i%2], hftest.Tensor{Name: name, Dtype: "F32", Shape: st.shape, Values: vals})
		weightMap[name] = []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[i%2]
		i++
	}
	sharded := t.TempDir()
	for k, ts := range shards {
		if err := hftest.WriteSafetensors(filepath.Join(sharded, []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[k]), ts); err != nil {
			t.Fatal(err)
		}
	}
	index, _ := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": weightMap})
	os.WriteFile(filepath.Join(sharded, SafetensorsIndex), index, 0o644)
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	os.WriteFile(filepath.Join(sharded, "config.json"), cfg, 0o644)
	got, err := Build(sharded, Options{Head: Logits})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Model, want.Model) {
		t.Error("the sharded checkpoint built another graph")
	}
	os.Remove(filepath.Join(sharded, "model-00002-of-00002.safetensors"))
	if _, err := Build(sharded, Options{Head: Logits}); err == nil || !strings.Contains(err.Error(), "model-00002-of-00002.safetensors") {
		t.Errorf("missing shard: got %v, want an error naming it", err)
	}
}

// TestBadCheckpointsGetErrorsNamingFileAndField breaks one thing at a time.
func TestBadCheckpointsGetErrorsNamingFileAndField(t *testing.T) {
	editConfig := func(dir string, edit func(map[string]any)) {
		p := filepath.Join(dir, "config.json")
		data, _ := os.ReadFile(p)
		var cfg map[string]any
		json.Unmarshal(data, &cfg)
		edit(cfg)
		data, _ = json.Marshal(cfg)
		os.WriteFile(p, data, 0o644)
	}
	rewrite := func(dir string, edit func([]hftest.Tensor) []hftest.Tensor) {
		p := filepath.Join(dir, SafetensorsFile)
		ck, err := OpenCheckpoint(p)
		if err != nil {
			t.Fatal(err)
		}
		var ts []hftest.Tensor
		for name, st := range ck.tensors {
			vals := make([]float32, len(st.data)/4)
			for k := range vals {
				vals[k] = math.Float32frombits(binary.LittleEndian.Uint32(st.data[4*k:]))
			}
			ts = append(ts, hftest.Tensor{Name: name, Dtype: "F32", Shape: st.shape, Values: vals})
		}
		if err := hftest.WriteSafetensors(p, edit(ts)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		opts   Options
		break_ func(dir string)
		want   []string
	}{
		{"unknown architecture", Options{}, func(d string) {
			editConfig(d, func(c map[string]any) { c["architectures"] = []string{"GPT2LMHeadModel"} })
		}, []string{"config.json", "GPT2LMHeadModel", "BertForMaskedLM"}},
		{"unsupported activation", Options{}, func(d string) {
			editConfig(d, func(c map[string]any) { c["hidden_act"] = "swish" })
		}, []string{"config.json", "hidden_act", "swish"}},
		{"missing size", Options{}, func(d string) {
			editConfig(d, func(c map[string]any) { delete(c, "num_attention_heads") })
		}, []string{"config.json", "num_attention_heads"}},
		{"bare model for SPLADE", Options{Head: MaxLogits}, func(d string) {
			editConfig(d, func(c map[string]any) { c["architectures"] = []string{"BertModel"} })
		}, []string{"BertModel", "masked-LM head"}},
		{"missing tensor", Options{}, func(d string) {
			rewrite(d, func(ts []hftest.Tensor) []hftest.Tensor {
				var out []hftest.Tensor
				for _, x := range ts {
					if x.Name != "bert.encoder.layer.1.attention.self.key.bias" {
						out = append(out, x)
					}
				}
				return out
			})
		}, []string{"model.safetensors", "bert.encoder.layer.1.attention.self.key.bias", "no such tensor"}},
		{"wrong shape", Options{}, func(d string) {
			rewrite(d, func(ts []hftest.Tensor) []hftest.Tensor {
				for i := range ts {
					if ts[i].Name == "bert.encoder.layer.0.intermediate.dense.weight" {
						ts[i].Shape = []int{tiny.Hidden, tiny.Intermediate}
					}
				}
				return ts
			})
		}, []string{"model.safetensors", "bert.encoder.layer.0.intermediate.dense.weight", "shape [8 16]", "want [16 8]"}},
		{"unsupported dtype", Options{}, func(d string) {
			p := filepath.Join(d, SafetensorsFile)
			data, _ := os.ReadFile(p)
			// Relabel one F32 tensor as I32: same size, a dtype the graph cannot use.
			data = bytes.Replace(data, []byte(`"bert.embeddings.LayerNorm.bias":{"data_offsets":[0,32],"dtype":"F32"`), []byte(`"bert.embeddings.LayerNorm.bias":{"data_offsets":[0,32],"dtype":"I32"`), 1)
			os.WriteFile(p, data, 0o644)
		}, []string{"model.safetensors", "bert.embeddings.LayerNorm.bias", "dtype I32"}},
		{"truncated file", Options{}, func(d string) {
			p := filepath.Join(d, SafetensorsFile)
			data, _ := os.ReadFile(p)
			os.WriteFile(p, data[:len(data)-4], 0o644)
		}, []string{"model.safetensors", "data_offsets"}},
		{"no checkpoint", Options{}, func(d string) { os.Remove(filepath.Join(d, SafetensorsFile)) }, []string{"model.safetensors"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tinyDir(t, "F32")
			tc.break_(dir)
			_, err := Build(dir, tc.opts)
			if err == nil {
				t.Fatal("built")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := Build(t.TempDir(), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no config.json: got %v", err)
	}
}

func TestUsablePositionsSkipRoBERTasPaddingOffset(t *testing.T) {
	if got := UsablePositions([]string{"RobertaForMaskedLM"}, 514, 1); got != 512 {
		t.Errorf("RoBERTa: got %d, want 512", got)
	}
	if got := UsablePositions([]string{"BertForMaskedLM"}, 512, 0); got != 512 {
		t.Errorf("BERT: got %d, want 512", got)
	}
}

func TestOverflowingShapeIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), SafetensorsFile)
	header := `{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`
	data := append(binary.LittleEndian.AppendUint64(nil, uint64(len(header))), header...)
	os.WriteFile(path, data, 0o644)
	if _, err := OpenCheckpoint(path); err == nil || !strings.Contains(err.Error(), `"w"`) {
		t.Errorf("got %v, want an error naming the tensor", err)
	}
}
