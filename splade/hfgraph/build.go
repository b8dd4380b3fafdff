package hfgraph

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	og "github.com/spladeq/spladeq/splade/onnxgraph"
)

// Output names of the built graphs.
const (
	// LogitsOutput is [batch, sequence, vocab], as a plain export names it.
	LogitsOutput = "logits"
	// MaxLogitsOutput is the blocked head's [batch, vocab]: per vocabulary
	// entry the largest logit over the real tokens, before log1p∘ReLU.
	MaxLogitsOutput = "spladeq_max_logits"
	// HiddenOutput is the encoder's last hidden state [batch, sequence, hidden].
	HiddenOutput = "last_hidden_state"
)

// Opset is the default-domain opset of the built graphs. ONNX Runtime's
// in-session AttentionFusion (1.30) matches only its own LayerNormalization
// (the one its LayerNormFusion makes from the decomposed form before opset
// 17) and Softmax before 13: at opset 12 every layer's attention becomes one
// Attention node, besides SkipLayerNormalization and BiasGelu, which opset
// 17's LayerNormalization op gets too (BENCHMARKS.md, "Graphs built from
// checkpoints").
const Opset = 12

// Head selects what a built graph returns.
type Head int

const (
	// Logits returns the masked-LM logits (LogitsOutput), as a plain export.
	Logits Head = iota
	// MaxLogits returns the blocked head's max logits (MaxLogitsOutput).
	MaxLogits
	// Hidden returns the encoder's last hidden state (HiddenOutput); the
	// head, if the checkpoint has one, is left out.
	Hidden
)

// Options says what to build.
type Options struct {
	Head Head
	// Block is the blocked head's slice width in vocabulary entries
	// (MaxLogits only); 0 means 4096.
	Block int
	// Opset is the default-domain opset to write, 12 to 17; 0 means Opset.
	// An Int8 graph is always written at Int8Opset (0 or Int8Opset).
	Opset int
	// Quantize selects the linear layers' arithmetic: Float32 (the zero
	// value) or Int8.
	Quantize Quantization
	// FloatHead keeps the vocabulary projection in float32 in an Int8
	// graph (the transform before it is still int8). Default false: the
	// projection is int8 with one scale per vocabulary row.
	FloatHead bool
	// FloatLayers lists the layers (from 0) whose FFN output projection
	// stays float32 in an Int8 graph, the matmul most sensitive to int8
	// (its input is the GELU output, with the largest outliers). Default
	// none.
	FloatLayers []int
	// WeightBits is the int8 weights' range, 7 ([-64, 64]) or 8 ([-127,
	// 127]); 0 means DefaultWeightBits.
	WeightBits int
}

// Graph is a built model.
type Graph struct {
	// Model is the encoded ONNX ModelProto.
	Model []byte
	// Checkpoint is the safetensors file (or index) it was built from.
	Checkpoint string
	// Architecture is config.json's architecture, Family its family.
	Architecture, Family string
	// Inputs are the graph inputs in order; Output is the one output.
	Inputs []string
	Output string
	// Vocab and Hidden are the vocabulary and hidden sizes.
	Vocab, Hidden int
	// Quantization is the arithmetic of the linear layers (Options.Quantize).
	Quantization Quantization
}

// ErrUnsupported is wrapped by errors for a model the builder does not
// handle: an unknown architecture, activation or configuration.
var ErrUnsupported = errors.New("unsupported model")

// Architectures lists the architectures the builder knows, sorted.
func Architectures() []string {
	var out []string
	for _, f := range families {
		for a := range f.archs {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// Build builds the ONNX graph of the model in dir from its config.json and
// its safetensors checkpoint (model.safetensors, or the shards
// model.safetensors.index.json names).
func Build(dir string, opts Options) (*Graph, error) {
	cfgPath := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("%s: a safetensors checkpoint needs its config.json: %w", dir, err)
	}
	cfg, err := parseConfig(cfgPath, data)
	if err != nil {
		return nil, err
	}
	path := FindCheckpoint(dir)
	if path == "" {
		return nil, fmt.Errorf("%s has no %s or %s", dir, SafetensorsFile, SafetensorsIndex)
	}
	ck, err := OpenCheckpoint(path)
	if err != nil {
		return nil, err
	}
	return build(cfg, ck, opts)
}

// config is what the builder reads from config.json.
type config struct {
	path         string
	arch         string
	fam          *family
	mlm          bool // the checkpoint has the masked-LM head
	vocab        int
	hidden       int
	layers       int
	heads        int
	intermediate int
	act          string
	eps          float64
	maxPositions int
	typeVocab    int
	padID        int
}

func parseConfig(path string, data []byte) (*config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s does not parse: %v", path, err)
	}
	c := &config{path: path}
	var archs []string
	if a, ok := raw["architectures"]; ok {
		if err := json.Unmarshal(a, &archs); err != nil {
			return nil, fmt.Errorf("%s: architectures: %v", path, err)
		}
	}
	for _, a := range archs {
		if f, ok := familyOf(a); ok {
			c.arch, c.fam, c.mlm = a, f, f.archs[a]
			break
		}
	}
	if c.fam == nil {
		return nil, fmt.Errorf("%w: %s: architectures %v: none is one of %s", ErrUnsupported, path, archs, strings.Join(Architectures(), ", "))
	}
	k := c.fam.keys
	ints := []struct {
		key string
		dst *int
		def int // -1: required
	}{
		{"vocab_size", &c.vocab, -1}, {k.hidden, &c.hidden, -1}, {k.layers, &c.layers, -1},
		{k.heads, &c.heads, -1}, {k.intermediate, &c.intermediate, -1},
		{"max_position_embeddings", &c.maxPositions, -1}, {"type_vocab_size", &c.typeVocab, 2}, {"pad_token_id", &c.padID, 0},
	}
	for _, f := range ints {
		v, ok := raw[f.key]
		if !ok || string(v) == "null" {
			if f.def < 0 {
				return nil, fmt.Errorf("%s: %s is missing", path, f.key)
			}
			*f.dst = f.def
			continue
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return nil, fmt.Errorf("%s: %s: want an integer, got %s", path, f.key, v)
		}
		if *f.dst < 0 || (f.def < 0 && *f.dst == 0) {
			return nil, fmt.Errorf("%s: %s: %d is out of range", path, f.key, *f.dst)
		}
	}
	c.act = "gelu"
	if v, ok := raw[k.act]; ok {
		if err := json.Unmarshal(v, &c.act); err != nil {
			return nil, fmt.Errorf("%s: %s: want a string, got %s", path, k.act, v)
		}
	}
	if _, ok := activations[c.act]; !ok {
		return nil, fmt.Errorf("%w: %s: %s %q; supported: %s", ErrUnsupported, path, k.act, c.act, strings.Join(activationNames(), ", "))
	}
	c.eps = c.fam.eps
	if v, ok := raw[k.eps]; ok && k.eps != "" {
		if err := json.Unmarshal(v, &c.eps); err != nil || c.eps <= 0 {
			return nil, fmt.Errorf("%s: %s: want a positive number, got %s", path, k.eps, v)
		}
	}
	for _, key := range c.fam.mustBeFalse {
		var on bool
		if v, ok := raw[key]; ok && json.Unmarshal(v, &on) == nil && on {
			return nil, fmt.Errorf("%w: %s: %s is true; only learned position embeddings are supported", ErrUnsupported, path, key)
		}
	}
	if c.hidden%c.heads != 0 {
		return nil, fmt.Errorf("%s: %s %d is not a multiple of %s %d", path, k.hidden, c.hidden, k.heads, c.heads)
	}
	return c, nil
}

// activations are the hidden_act values the builder writes.
var activations = map[string]func(b *og.Builder, x string) string{
	"gelu":              geluErf,
	"gelu_python":       geluErf,
	"gelu_new":          geluTanh,
	"gelu_pytorch_tanh": geluTanh,
	"gelu_fast":         geluTanh,
	"relu":              func(b *og.Builder, x string) string { return b.Node("Relu", []string{x}) },
}

func activationNames() []string {
	var out []string
	for a := range activations {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// geluErf is exact GELU, 0.5·x·(1 + erf(x/√2)), in the shape a PyTorch
// export writes and ONNX Runtime's GeluFusion recognises.
func geluErf(b *og.Builder, x string) string {
	e := b.Node("Erf", []string{b.Node("Div", []string{x, b.Float(float32(math.Sqrt2))})})
	return b.Node("Mul", []string{b.Node("Mul", []string{x, b.Node("Add", []string{e, b.Float(1)})}), b.Float(0.5)})
}

// geluTanh is the tanh approximation, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
func geluTanh(b *og.Builder, x string) string {
	cube := b.Node("Mul", []string{b.Node("Pow", []string{x, b.Float(3)}), b.Float(0.044715)})
	inner := b.Node("Mul", []string{b.Node("Add", []string{x, cube}), b.Float(float32(math.Sqrt(2 / math.Pi)))})
	t := b.Node("Add", []string{b.Node("Tanh", []string{inner}), b.Float(1)})
	return b.Node("Mul", []string{b.Node("Mul", []string{x, t}), b.Float(0.5)})
}

// builder walks a family's table over one checkpoint.
type builder struct {
	*og.Builder
	cfg    *config
	ck     *Checkpoint
	prefix string     // the body's tensor-name prefix in this checkpoint
	err    error      // the first missing or misshapen tensor
	q8     *quantizer // nil in a Float32 graph
	// maskAdd is the float attention's additive mask, made once.
	maskAdd string
}

// failure is the first tensor error, with a hint when a tensor is missing.
func (b *builder) failure() error {
	if errors.Is(b.err, errMissing) {
		return fmt.Errorf("%w (is %s the checkpoint of a %s %s?)", b.err, b.ck.Path, b.cfg.fam.name, b.cfg.arch)
	}
	return b.err
}

// weight adds a checkpoint tensor as a float32 initializer of the given
// shape (transposed for a Linear weight) and returns its name.
func (b *builder) weight(name string, transpose bool, shape ...int) string {
	raw, fill, err := b.ck.floatTensor(name, shape, transpose)
	if err != nil {
		if b.err == nil {
			b.err = err
		}
		return name
	}
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	if transpose {
		dims[0], dims[1] = dims[1], dims[0]
	}
	return b.AddTensor(og.Tensor{Name: name, Type: og.Float, Dims: dims, Raw: raw, Fill: fill})
}

// norm adds a LayerNorm's scale and shift, named weight/bias or, in older
// checkpoints, gamma/beta.
func (b *builder) norm(x, name string) string {
	w, bias := name+".weight", name+".bias"
	if !b.ck.Has(w) && b.ck.Has(name+".gamma") {
		w, bias = name+".gamma", name+".beta"
	}
	gamma, beta := b.weight(w, false, b.cfg.hidden), b.weight(bias, false, b.cfg.hidden)
	if b.Opset >= 17 {
		return b.Node("LayerNormalization", []string{x, gamma, beta},
			og.IntAttr("axis", -1), og.FloatAttr("epsilon", float32(b.cfg.eps)))
	}
	// Before opset 17, the decomposition ONNX Runtime's LayerNormFusion
	// turns into its own LayerNormalization.
	mean := b.Node("ReduceMean", []string{x}, og.IntsAttr("axes", -1))
	d := b.Node("Sub", []string{x, mean})
	variance := b.Node("ReduceMean", []string{b.Node("Pow", []string{d, b.Float(2)})}, og.IntsAttr("axes", -1))
	std := b.Node("Sqrt", []string{b.Node("Add", []string{variance, b.Float(float32(b.cfg.eps))})})
	return b.Node("Add", []string{b.Node("Mul", []string{b.Node("Div", []string{d, std}), gamma}), beta})
}

// unsqueeze inserts one axis (an attribute before opset 13, an input since).
func (b *builder) unsqueeze(x string, axis int64) string {
	if b.Opset >= 13 {
		return b.Node("Unsqueeze", []string{x, b.Ints(axis)})
	}
	return b.Node("Unsqueeze", []string{x}, og.IntsAttr("axes", axis))
}

// attentionFloat adds one layer's self-attention in float32, projections
// included, in the shape ONNX Runtime's AttentionFusion turns into one
// Attention node: the Q, K and V projections split into heads, scores
// scaled by 1/√(head size) plus the additive mask, Softmax, the heads
// merged.
func (b *builder) attentionFloat(x string, names [3]string) string {
	h, heads := b.cfg.hidden, b.cfg.heads
	hd := h / heads
	if b.maskAdd == "" {
		// The additive attention mask [batch, 1, 1, seq]: 0 for real
		// tokens, -10000 for padding, in the shape AttentionFusion matches
		// (Unsqueeze, Unsqueeze, Cast, Sub from 1, Mul).
		m := b.unsqueeze("attention_mask", 1)
		m = b.unsqueeze(m, 2)
		m = b.Node("Cast", []string{m}, og.IntAttr("to", og.Float))
		b.maskAdd = b.Node("Mul", []string{b.Node("Sub", []string{b.Float(1), m}), b.Float(-10000)})
	}
	split := func(name string, perm ...int64) string { // one projection, split into heads
		r := b.Node("Reshape", []string{b.linear(x, name, h, h), b.Ints(0, 0, int64(heads), int64(hd))})
		return b.Node("Transpose", []string{r}, og.IntsAttr("perm", perm...))
	}
	q := split(names[0], 0, 2, 1, 3)
	k := split(names[1], 0, 2, 3, 1)
	v := split(names[2], 0, 2, 1, 3)
	scale := b.Float(float32(math.Sqrt(float64(hd))))
	scores := b.Node("Add", []string{b.Node("Div", []string{b.Node("MatMul", []string{q, k}), scale}), b.maskAdd})
	probs := b.Node("Softmax", []string{scores}, og.IntAttr("axis", 3))
	ctx := b.Node("Transpose", []string{b.Node("MatMul", []string{probs, v})}, og.IntsAttr("perm", 0, 2, 1, 3))
	return b.Node("Reshape", []string{ctx, b.Ints(0, 0, int64(h))})
}

// linear adds x·Wᵀ + bias for a Linear layer of in → out features, in
// int8 in an Int8 graph unless the layer is kept in float32.
func (b *builder) linear(x, name string, in, out int) string {
	if b.q8 != nil && !b.q8.float[name] {
		return b.linearInt8(x, name, in, out)
	}
	w := b.weight(name+".weight", true, out, in)
	return b.Node("Add", []string{b.Node("MatMul", []string{x, w}), b.weight(name+".bias", false, out)})
}

func build(cfg *config, ck *Checkpoint, opts Options) (*Graph, error) {
	f := cfg.fam
	if opts.Head != Hidden && !cfg.mlm {
		return nil, fmt.Errorf("%w: %s: architecture %s has no masked-LM head; a SPLADE model is a *ForMaskedLM checkpoint", ErrUnsupported, cfg.path, cfg.arch)
	}
	opset := Opset
	switch {
	case opts.Quantize == Int8:
		if opts.Opset != 0 && opts.Opset != Int8Opset {
			return nil, fmt.Errorf("opset %d: an int8 graph is written at opset %d", opts.Opset, Int8Opset)
		}
		opset = Int8Opset
	case opts.Opset != 0:
		if opts.Opset < 12 || opts.Opset > 17 {
			return nil, fmt.Errorf("opset %d: the builder writes 12 to 17", opts.Opset)
		}
		opset = opts.Opset
	}
	b := &builder{Builder: og.NewBuilder("", opset), cfg: cfg, ck: ck}
	switch opts.Quantize {
	case Float32:
	case Int8:
		q, err := newQuantizer(opts)
		if err != nil {
			return nil, err
		}
		for _, l := range opts.FloatLayers {
			if l < 0 || l >= cfg.layers {
				return nil, fmt.Errorf("float layer %d: %s has layers 0 to %d", l, cfg.path, cfg.layers-1)
			}
		}
		b.q8 = q
		b.q8.zero = b.Init("int8_zero_point", og.Uint8, nil, []byte{activationZero})
	default:
		return nil, fmt.Errorf("quantization %v: want %s", opts.Quantize, strings.Join(Quantizations, " or "))
	}
	// A bare model's checkpoint may lack the prefix a head checkpoint has.
	b.prefix = f.prefix
	if !ck.Has(b.prefix+f.embed.word+".weight") && ck.Has(f.embed.word+".weight") {
		b.prefix = ""
	}
	p := b.prefix
	h := cfg.hidden
	g := &Graph{Checkpoint: ck.Path, Architecture: cfg.arch, Family: f.name, Vocab: cfg.vocab, Hidden: h,
		Inputs: []string{"input_ids", "attention_mask"}, Quantization: opts.Quantize}
	if b.q8 != nil {
		for _, l := range opts.FloatLayers {
			b.q8.float[p+fmt.Sprintf(f.layer.ffOut, l)] = true
		}
	}
	inputs := [][]byte{
		og.ValueInfoProto("input_ids", og.Int64, og.Symbolic("batch"), og.Symbolic("sequence")),
		og.ValueInfoProto("attention_mask", og.Int64, og.Symbolic("batch"), og.Symbolic("sequence")),
	}

	// Embeddings: word + position (+ token type), then LayerNorm.
	word := b.weight(p+f.embed.word+".weight", false, cfg.vocab, h)
	if b.err != nil { // sizes the checkpoint does not hold; build no further on them
		return nil, b.failure()
	}
	x := b.Node("Gather", []string{word, "input_ids"}, og.IntAttr("axis", 0))
	posTable := b.weight(p+f.embed.pos+".weight", false, cfg.maxPositions, h)
	var positions string
	switch f.positions {
	case fromZero:
		// cumsum(1) - 1 over [batch, seq], not Range(0, seq): the
		// positions then have the inputs' symbolic shape, and so does every
		// residual sum, which SkipLayerNormalization's fusion needs.
		ones := b.Node("Add", []string{b.Node("Mul", []string{"input_ids", b.Int(0)}), b.Int(1)})
		positions = b.Node("Sub", []string{b.Node("CumSum", []string{ones, b.Int(1)}), b.Int(1)})
	case afterPadding:
		count := b.Node("CumSum", []string{"attention_mask", b.Int(1)})
		positions = b.Node("Add", []string{b.Node("Mul", []string{count, "attention_mask"}), b.Int(int64(cfg.padID))})
	}
	x = b.Node("Add", []string{x, b.Node("Gather", []string{posTable, positions}, og.IntAttr("axis", 0))})
	switch f.tokenTypes {
	case typeInput:
		types := b.weight(p+f.embed.types+".weight", false, cfg.typeVocab, h)
		x = b.Node("Add", []string{x, b.Node("Gather", []string{types, "token_type_ids"}, og.IntAttr("axis", 0))})
		g.Inputs = append(g.Inputs, "token_type_ids")
		inputs = append(inputs, og.ValueInfoProto("token_type_ids", og.Int64, og.Symbolic("batch"), og.Symbolic("sequence")))
	case typeZero:
		types := b.weight(p+f.embed.types+".weight", false, cfg.typeVocab, h)
		row0 := b.Node("Gather", []string{types, b.Int(0)}, og.IntAttr("axis", 0)) // [h], folded at load
		x = b.Node("Add", []string{x, row0})
	}
	x = b.norm(x, p+f.embed.norm)

	attention := b.attentionFloat
	if b.q8 != nil {
		attention = b.attentionInt8
	}
	names := func(i int) [3]string {
		return [3]string{p + fmt.Sprintf(f.layer.q, i), p + fmt.Sprintf(f.layer.k, i), p + fmt.Sprintf(f.layer.v, i)}
	}
	act := activations[cfg.act]
	for i := 0; i < cfg.layers; i++ {
		n := func(pattern string) string { return p + fmt.Sprintf(pattern, i) }
		ctx := attention(x, names(i))
		x = b.norm(b.Node("Add", []string{b.linear(ctx, n(f.layer.attnOut), h, h), x}), n(f.layer.attnNorm))
		ff := act(b.Builder, b.linear(x, n(f.layer.ffIn), h, cfg.intermediate))
		x = b.norm(b.Node("Add", []string{b.linear(ff, n(f.layer.ffOut), cfg.intermediate, h), x}), n(f.layer.ffNorm))
	}

	var outputs [][]byte
	switch opts.Head {
	case Hidden:
		g.Output = HiddenOutput
		b.Output(x, HiddenOutput)
		outputs = append(outputs, og.ValueInfoProto(HiddenOutput, og.Float, og.Symbolic("batch"), og.Symbolic("sequence"), og.Fixed(int64(h))))
	default:
		headAct := act
		if f.headAct != "" {
			headAct = activations[f.headAct]
		}
		t := b.norm(headAct(b.Builder, b.linear(x, f.head.dense, h, h)), f.head.norm)
		decoder := word
		if name := f.head.decoder + ".weight"; ck.Has(name) {
			decoder = b.weight(name, false, cfg.vocab, h)
		}
		bias := ""
		for _, name := range f.head.bias {
			if ck.Has(name) {
				bias = b.weight(name, false, cfg.vocab)
				break
			}
		}
		if bias == "" && b.err == nil {
			b.err = fmt.Errorf("%s: no decoder bias (looked for %s)", ck.Path, strings.Join(f.head.bias, ", "))
		}
		int8Head := b.q8 != nil && !opts.FloatHead
		// [hidden, vocab], folded by the runtime at load.
		proj := ""
		if !int8Head {
			proj = b.Node("Transpose", []string{decoder}, og.IntsAttr("perm", 1, 0))
		}
		if opts.Head == MaxLogits {
			block := opts.Block
			if block <= 0 {
				block = 4096
			}
			g.Output = MaxLogitsOutput
			if int8Head {
				b.Output(b.blockedMaxHeadInt8(t, decoder, bias, block), MaxLogitsOutput)
			} else {
				b.Output(og.BlockedMaxHead(b.Builder, t, "attention_mask", proj, bias, cfg.vocab, block), MaxLogitsOutput)
			}
			outputs = append(outputs, og.ValueInfoProto(MaxLogitsOutput, og.Float, og.Symbolic("batch"), og.Fixed(int64(cfg.vocab))))
		} else {
			g.Output = LogitsOutput
			if int8Head {
				q, scale := b.perToken(t, h)
				w, ws := b.int8Weight(decoder, cfg.vocab, h, 0, cfg.vocab)
				logits := b.DomainNode(og.MicrosoftDomain, "MatMulIntegerToFloat", []string{q, w, scale, ws, b.q8.zero})
				b.Output(b.Node("Add", []string{logits, bias}), LogitsOutput)
			} else {
				b.Output(b.Node("Add", []string{b.Node("MatMul", []string{t, proj}), bias}), LogitsOutput)
			}
			outputs = append(outputs, og.ValueInfoProto(LogitsOutput, og.Float, og.Symbolic("batch"), og.Symbolic("sequence"), og.Fixed(int64(cfg.vocab))))
		}
	}
	if b.err != nil {
		return nil, b.failure()
	}
	g.Model = b.Model(cfg.arch, "spladeq hfgraph", inputs, outputs)
	return g, nil
}

// UsablePositions is how many tokens a model of one of architectures
// with maxPositions position embeddings takes: all of them, except in a
// family whose positions start after padding_idx (RoBERTa: 514 → 512).
// An unknown architecture keeps maxPositions.
func UsablePositions(architectures []string, maxPositions, padID int) int {
	for _, a := range architectures {
		if f, ok := familyOf(a); ok && f.positions == afterPadding && maxPositions > padID+1 {
			return maxPositions - padID - 1
		}
	}
	return maxPositions
}

// DefaultHead is the head a plain export of the checkpoint in dir has:
// Logits for a *ForMaskedLM architecture, Hidden for a bare *Model.
func DefaultHead(dir string) (Head, error) {
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	cfg, err := parseConfig(path, data)
	if err != nil {
		return 0, err
	}
	if cfg.mlm {
		return Logits, nil
	}
	return Hidden, nil
}

// WriteModel builds the graph of the checkpoint in dir and writes it to
// out, through a temporary file renamed into place.
func WriteModel(dir, out string, opts Options) (*Graph, error) {
	g, err := Build(dir, opts)
	if err != nil {
		return nil, err
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, g.Model, 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	return g, nil
}
