package splade

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/spladeq/spladeq/splade/hfgraph/hftest"
	og "github.com/spladeq/spladeq/splade/onnxgraph"
)

// fixtureWeights reads the float initializers of a fixture's ONNX graph
// (tools/genmodel names: word, l0_q_w as [in, out], ...).
func fixtureWeights(t testing.TB, path string) map[string]hftest.Tensor {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	graph, _, _, err := og.SplitModel(data)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]hftest.Tensor{}
	og.EachField(graph, func(num protowire.Number, _ protowire.Type, _, v []byte) error {
		if num != og.GraphInitializer {
			return nil
		}
		var tt hftest.Tensor
		var raw []byte
		isFloat := false
		og.EachField(v, func(n protowire.Number, _ protowire.Type, _, f []byte) error {
			switch n {
			case og.TensorName:
				tt.Name = string(f)
			case og.TensorDims:
				d, _ := protowire.ConsumeVarint(f)
				tt.Shape = append(tt.Shape, int(d))
			case og.TensorDataType:
				d, _ := protowire.ConsumeVarint(f)
				isFloat = d == og.Float
			case og.TensorRawData:
				raw = f
			}
			return nil
		})
		if isFloat && len(tt.Shape) > 0 {
			tt.Values = make([]float32, len(raw)/4)
			for i := range tt.Values {
				tt.Values[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
			out[tt.Name] = tt
		}
		return nil
	})
	return out
}

// transposed returns a [rows, cols] tensor as [cols, rows] under a new name.
func transposed(t hftest.Tensor, name string) hftest.Tensor {
	rows, cols := t.Shape[0], t.Shape[1]
	v := make([]float32, len(t.Values))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			v[c*rows+r] = t.Values[r*cols+c]
		}
	}
	return hftest.Tensor{Name: name, Shape: []int{cols, rows}, Values: v}
}

// checkpointFromFixture writes a HuggingFace checkpoint directory
// (config.json, model.safetensors in dtype, tokenizer.json) holding the
// weights of a genmodel fixture under the family's tensor names: the
// builder must then reproduce the fixture's numpy reference.
func checkpointFromFixture(t testing.TB, fixture, onnxRel, arch, dtype string) string {
	t.Helper()
	w := fixtureWeights(t, filepath.Join(modelDir(fixture), onnxRel))
	layers, hidden := 0, w["word"].Shape[1]
	for ; ; layers++ {
		if _, ok := w[fmt.Sprintf("l%d_q_w", layers)]; !ok {
			break
		}
	}
	var ts []hftest.Tensor
	put := func(t hftest.Tensor, name string) {
		t.Name = name
		ts = append(ts, t)
	}
	distil := strings.HasPrefix(arch, "DistilBert")
	roberta := strings.Contains(arch, "Roberta")
	p, layer := "bert.", "bert.encoder.layer.%d."
	lin := map[string]string{"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
		"o": "attention.output.dense", "ff1": "intermediate.dense", "ff2": "output.dense"}
	norms := map[string]string{"ln1": "attention.output.LayerNorm", "ln2": "output.LayerNorm"}
	head := [3]string{"cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.bias"}
	if distil {
		p, layer = "distilbert.", "distilbert.transformer.layer.%d."
		lin = map[string]string{"q": "attention.q_lin", "k": "attention.k_lin", "v": "attention.v_lin",
			"o": "attention.out_lin", "ff1": "ffn.lin1", "ff2": "ffn.lin2"}
		norms = map[string]string{"ln1": "sa_layer_norm", "ln2": "output_layer_norm"}
		head = [3]string{"vocab_transform", "vocab_layer_norm", "vocab_projector.bias"}
	}
	if roberta {
		// RoBERTa counts positions from padding_idx+1 (padding_idx 1 here)
		// and has one token type: shift the position table by two rows and
		// keep type 0, and the BERT fixture's reference still holds.
		p, layer = "roberta.", "roberta.encoder.layer.%d."
		head = [3]string{"lm_head.dense", "lm_head.layer_norm", "lm_head.bias"}
		pos := w["pos"]
		shifted := make([]float32, 2*hidden, len(pos.Values)+2*hidden)
		for i := range shifted {
			shifted[i] = 99 // rows a correct graph never reads
		}
		pos.Values = append(shifted, pos.Values...)
		pos.Shape = []int{pos.Shape[0] + 2, hidden}
		w["pos"] = pos
		typ := w["type"]
		w["type"] = hftest.Tensor{Shape: []int{1, hidden}, Values: typ.Values[:hidden]}
	}
	put(w["word"], p+"embeddings.word_embeddings.weight")
	put(w["pos"], p+"embeddings.position_embeddings.weight")
	if typ, ok := w["type"]; ok {
		put(typ, p+"embeddings.token_type_embeddings.weight")
	}
	// Old-style gamma/beta names for the embeddings' LayerNorm.
	put(w["emb_ln_g"], p+"embeddings.LayerNorm.gamma")
	put(w["emb_ln_b"], p+"embeddings.LayerNorm.beta")
	for i := 0; i < layers; i++ {
		lp := fmt.Sprintf(layer, i)
		for ours, theirs := range lin {
			ts = append(ts, transposed(w[fmt.Sprintf("l%d_%s_w", i, ours)], lp+theirs+".weight"))
			put(w[fmt.Sprintf("l%d_%s_b", i, ours)], lp+theirs+".bias")
		}
		for ours, theirs := range norms {
			put(w[fmt.Sprintf("l%d_%s_g", i, ours)], lp+theirs+".weight")
			put(w[fmt.Sprintf("l%d_%s_b", i, ours)], lp+theirs+".bias")
		}
	}
	ts = append(ts, transposed(w["head_w"], head[0]+".weight"))
	put(w["head_b"], head[0]+".bias")
	put(w["head_ln_g"], head[1]+".weight")
	put(w["head_ln_b"], head[1]+".bias")
	put(w["decoder_b"], head[2])
	for i := range ts {
		ts[i].Dtype = dtype
	}

	dir := t.TempDir()
	if err := hftest.WriteSafetensors(filepath.Join(dir, "model.safetensors"), ts); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{"architectures": []string{arch}, "vocab_size": w["word"].Shape[0], "max_position_embeddings": w["pos"].Shape[0]}
	if distil {
		cfg["model_type"], cfg["dim"], cfg["n_layers"], cfg["n_heads"], cfg["hidden_dim"], cfg["activation"] = "distilbert", hidden, layers, 2, w["l0_ff1_b"].Shape[0], "gelu"
	} else {
		cfg["model_type"], cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["intermediate_size"], cfg["hidden_act"] = "bert", hidden, layers, 2, w["l0_ff1_b"].Shape[0], "gelu"
	}
	if roberta {
		cfg["model_type"], cfg["pad_token_id"], cfg["type_vocab_size"] = "roberta", 1, 1
	}
	data, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(modelDir(fixture), "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCheckpointGraphMatchesReference: a BERT and a DistilBERT checkpoint
// holding the fixtures' weights, loaded with no ONNX file, give the
// fixtures' numpy reference vectors — with the blocked head built in, and
// with the logits head the gather rewrite takes.
func TestCheckpointGraphMatchesReference(t *testing.T) {
	ref := loadReference(t)
	for _, tc := range []struct{ fixture, onnx, arch string }{
		{"bert-tiny", "model.onnx", "BertForMaskedLM"},
		{"distilbert-tiny", "onnx/model.onnx", "DistilBertForMaskedLM"},
		{"bert-tiny", "model.onnx", "RobertaForMaskedLM"},
		{"bert-tiny", "model.onnx", "XLMRobertaForMaskedLM"},
	} {
		dir := checkpointFromFixture(t, tc.fixture, tc.onnx, tc.arch, "F32")
		modes := ref.Models[tc.fixture]
		for _, opts := range [][]Option{nil, {WithHeadBlock(0)}} {
			e := newTestEncoder(t, dir, append(opts, WithMaxLength(modes["document"].MaxLength), WithQueryMaxLength(modes["query"].MaxLength))...)
			info := e.Info()
			if info.ONNX != "" || info.Checkpoint == "" || (opts == nil) != info.BlockedHead || (opts != nil) != info.Gathered {
				t.Fatalf("%s %d options: info %+v", tc.fixture, len(opts), info)
			}
			for _, mode := range []Mode{Document, Query} {
				got, err := e.EncodeMode(context.Background(), mode, ref.Texts)
				if err != nil {
					t.Fatal(err)
				}
				for i := range ref.Texts {
					if diff := compareVectors(got[i], modes[mode.String()].Vectors[i]); diff != "" {
						t.Errorf("%s blocked=%v %s text %d: %s", tc.fixture, info.BlockedHead, mode, i, diff)
					}
				}
			}
		}
	}
}

// TestHalfPrecisionCheckpointsEqualTheirWidenedWeights: F16 and BF16
// checkpoints give the vectors of an F32 checkpoint holding the same
// rounded values (rounded and widened by hftest, by arithmetic, not by the
// reader's bit shifts).
func TestHalfPrecisionCheckpointsEqualTheirWidenedWeights(t *testing.T) {
	ref := loadReference(t)
	for _, dtype := range []string{"F16", "BF16"} {
		half := checkpointFromFixture(t, "bert-tiny", "model.onnx", "BertForMaskedLM", dtype)
		widened := checkpointFromFixture(t, "bert-tiny", "model.onnx", "BertForMaskedLM", "F32")
		// Rewrite the F32 one with the rounded values.
		ck := fixtureWeightsFromSafetensors(t, filepath.Join(widened, "model.safetensors"))
		for i := range ck {
			for j, v := range ck[i].Values {
				ck[i].Values[j] = hftest.Rounded(v, dtype)
			}
		}
		if err := hftest.WriteSafetensors(filepath.Join(widened, "model.safetensors"), ck); err != nil {
			t.Fatal(err)
		}
		a, b := newTestEncoder(t, half), newTestEncoder(t, widened)
		sameVectors(t, a, b, ref.Texts, 1e-6)
	}
}

// fixtureWeightsFromSafetensors reads an F32 safetensors file written by
// hftest back into tensors.
func fixtureWeightsFromSafetensors(t testing.TB, path string) []hftest.Tensor {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(data)
	var header map[string]struct {
		Dtype   string `json:"dtype"`
		Shape   []int  `json:"shape"`
		Offsets []int  `json:"data_offsets"`
	}
	json.Unmarshal(data[8:8+n], &header)
	var out []hftest.Tensor
	for name, h := range header {
		if h.Dtype != "F32" {
			continue
		}
		body := data[8+int(n)+h.Offsets[0] : 8+int(n)+h.Offsets[1]]
		v := make([]float32, len(body)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
		}
		out = append(out, hftest.Tensor{Name: name, Dtype: "F32", Shape: h.Shape, Values: v})
	}
	return out
}

// hfReference is a reference.json of the HuggingFace checkpoint fixtures
// (testdata/models/README.md), written by tools/genmodel/hfref.py.
type hfReference struct {
	Architecture string                            `json:"architecture"`
	Texts        []string                          `json:"texts"`
	Models       map[string]map[string]refModeData `json:"models"`
}

// TestCheckpointFixturesMatchTheirNumpyReferences: every family and dtype
// of the checkpoint fixtures, loaded with no ONNX file, gives the token ids
// and the vectors of an independent numpy forward pass to 1e-4 — with the
// blocked head built in and with the logits head, gathered.
func TestCheckpointFixturesMatchTheirNumpyReferences(t *testing.T) {
	for _, name := range []string{"hf-bert", "hf-bert-fp16", "hf-bert-bf16", "hf-distilbert", "hf-roberta", "hf-xlmr"} {
		data, err := os.ReadFile(filepath.Join(modelDir(name), "reference.json"))
		if err != nil {
			t.Fatal(err)
		}
		var ref hfReference
		if err := json.Unmarshal(data, &ref); err != nil {
			t.Fatal(err)
		}
		modes := ref.Models[name]
		if len(ref.Texts) < 5 || modes == nil {
			t.Fatalf("%s: reference has %d texts and models %v", name, len(ref.Texts), ref.Models)
		}
		for _, opts := range [][]Option{nil, {WithHeadBlock(0)}} {
			e := newTestEncoder(t, name, append(opts, WithMaxLength(modes["document"].MaxLength), WithQueryMaxLength(modes["query"].MaxLength))...)
			info := e.Info()
			if info.Checkpoint == "" || info.BlockedHead == (opts != nil) {
				t.Fatalf("%s: info %+v", name, info)
			}
			for _, mode := range []Mode{Document, Query} {
				data := modes[mode.String()]
				t.Run(fmt.Sprintf("%s %s blocked=%v equals the numpy reference", name, mode, info.BlockedHead), func(t *testing.T) {
					checkReference(t, e, mode, ref.Texts, data)
				})
			}
		}
	}
}
