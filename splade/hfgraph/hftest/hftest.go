// Package hftest writes HuggingFace-style checkpoints for tests and
// benchmarks: safetensors files in F32, F16 or BF16, and random-weight
// BERT masked-LM checkpoints of a given size. Only tests import it.
package hftest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
)

// Tensor is one tensor to write: float32 values stored as Dtype.
type Tensor struct {
	Name   string
	Dtype  string // F32, F16 or BF16
	Shape  []int
	Values []float32
}

// WriteSafetensors writes tensors as a safetensors file: an 8-byte
// little-endian header length, the JSON header, the data.
func WriteSafetensors(path string, ts []Tensor) error {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var data []byte
	for _, t := range ts {
		start := len(data)
		for _, v := range t.Values {
			switch t.Dtype {
			case "F32":
				data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
			case "F16":
				data = binary.LittleEndian.AppendUint16(data, F16(v))
			case "BF16":
				data = binary.LittleEndian.AppendUint16(data, BF16(v))
			default:
				return fmt.Errorf("tensor %s: dtype %q", t.Name, t.Dtype)
			}
		}
		header[t.Name] = map[string]any{"dtype": t.Dtype, "shape": t.Shape, "data_offsets": []int{start, len(data)}}
	}
	h, err := json.Marshal(header)
	if err != nil {
		return err
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(append(out, h...), data...)
	return os.WriteFile(path, out, 0o644)
}

// F16 rounds x to the nearest IEEE binary16 (ties to even), by scaling
// rather than by bit manipulation, so it checks the reader's decoder
// independently.
func F16(x float32) uint16 {
	f := float64(x)
	var sign uint16
	if math.Signbit(f) {
		sign, f = 0x8000, -f
	}
	switch {
	case math.IsNaN(f):
		return 0x7e00
	case f >= 65520: // rounds past the largest finite half
		return sign | 0x7c00
	case f < math.Ldexp(1, -14): // subnormal: multiples of 2^-24
		return sign | uint16(math.RoundToEven(f*(1<<24)))
	}
	exp := math.Floor(math.Log2(f))
	mant := math.RoundToEven((f/math.Exp2(exp) - 1) * 1024)
	if mant == 1024 {
		mant, exp = 0, exp+1
	}
	return sign | uint16(exp+15)<<10 | uint16(mant)
}

// FromF16 decodes binary16 bits by arithmetic.
func FromF16(h uint16) float32 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, mant := int(h>>10&0x1f), float64(h&0x3ff)
	switch exp {
	case 0:
		return float32(sign * mant * math.Ldexp(1, -24))
	case 0x1f:
		if mant != 0 {
			return float32(math.NaN())
		}
		return float32(sign * math.Inf(1))
	}
	return float32(sign * (1 + mant/1024) * math.Ldexp(1, exp-15))
}

// BF16 rounds x to bfloat16 (ties to even).
func BF16(x float32) uint16 {
	b := math.Float32bits(x)
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// FromBF16 decodes bfloat16 bits.
func FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Rounded returns v as stored in dtype and read back.
func Rounded(v float32, dtype string) float32 {
	switch dtype {
	case "F16":
		return FromF16(F16(v))
	case "BF16":
		return FromBF16(BF16(v))
	}
	return v
}

// Size is a BERT shape.
type Size struct {
	Layers, Hidden, Heads, Intermediate, Vocab, MaxPositions int
}

// Base is BERT-base with the bert-base-uncased vocabulary.
var Base = Size{Layers: 12, Hidden: 768, Heads: 12, Intermediate: 3072, Vocab: 30522, MaxPositions: 512}

// RandomBERT writes config.json and model.safetensors of a
// BertForMaskedLM of the given size with seeded random weights (tied
// decoder) into dir, in dtype.
func RandomBERT(dir string, s Size, dtype string, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	var ts []Tensor
	add := func(name string, scale, mean float64, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(mean + scale*rng.NormFloat64())
		}
		ts = append(ts, Tensor{Name: name, Dtype: dtype, Shape: shape, Values: v})
	}
	lin := func(name string, in, out int) {
		add(name+".weight", 1/math.Sqrt(float64(in)), 0, out, in)
		add(name+".bias", 0.1, 0, out)
	}
	norm := func(name string) {
		add(name+".weight", 0.1, 1, s.Hidden)
		add(name+".bias", 0.1, 0, s.Hidden)
	}
	add("bert.embeddings.word_embeddings.weight", 2/math.Sqrt(float64(s.Hidden)), 0, s.Vocab, s.Hidden)
	add("bert.embeddings.position_embeddings.weight", 0.5, 0, s.MaxPositions, s.Hidden)
	add("bert.embeddings.token_type_embeddings.weight", 0.5, 0, 2, s.Hidden)
	norm("bert.embeddings.LayerNorm")
	for i := 0; i < s.Layers; i++ {
		p := fmt.Sprintf("bert.encoder.layer.%d.", i)
		for _, n := range []string{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"} {
			lin(p+n, s.Hidden, s.Hidden)
		}
		norm(p + "attention.output.LayerNorm")
		lin(p+"intermediate.dense", s.Hidden, s.Intermediate)
		lin(p+"output.dense", s.Intermediate, s.Hidden)
		norm(p + "output.LayerNorm")
	}
	lin("cls.predictions.transform.dense", s.Hidden, s.Hidden)
	norm("cls.predictions.transform.LayerNorm")
	add("cls.predictions.bias", 1, -4, s.Vocab)
	cfg := map[string]any{
		"architectures": []string{"BertForMaskedLM"}, "model_type": "bert", "vocab_size": s.Vocab,
		"hidden_size": s.Hidden, "num_hidden_layers": s.Layers, "num_attention_heads": s.Heads,
		"intermediate_size": s.Intermediate, "max_position_embeddings": s.MaxPositions,
		"hidden_act": "gelu", "layer_norm_eps": 1e-12, "type_vocab_size": 2, "pad_token_id": 0,
	}
	data, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		return err
	}
	return WriteSafetensors(filepath.Join(dir, "model.safetensors"), ts)
}
