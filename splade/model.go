package splade

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/spladeq/spladeq/splade/hfgraph"
)

// ErrModel wraps every problem with a model directory: missing files, Git LFS
// pointers, files that do not parse, graphs of the wrong shape.
var ErrModel = errors.New("model")

// ONNXCandidates are the ONNX files looked for, in order, when none is named:
// the layout of a plain export and the HuggingFace "onnx/" subfolder layout.
// A graph with pooling folded in (model.pooled.onnx) is used only when named
// (WithONNXFile): on CPU it measured slower than pooling in Go (docs/benchmarks-history.md).
var ONNXCandidates = []string{"model.onnx", "onnx/model.onnx"}

// ModelDir describes the files of a model directory in HuggingFace layout.
type ModelDir struct {
	// Dir is the directory.
	Dir string
	// ONNX is the path of the ONNX graph; empty when the graph is built
	// from Checkpoint.
	ONNX string
	// Checkpoint is the safetensors checkpoint (model.safetensors, or a
	// sharded one's index) the graph is built from in memory
	// (package hfgraph), when the directory has no ONNX file.
	Checkpoint string
	// Tokenizer is the path of tokenizer.json.
	Tokenizer string
	// Config holds what was read from the optional config.json and
	// tokenizer_config.json.
	Config ModelConfig
}

// ModelConfig holds the settings read from config.json and
// tokenizer_config.json; zero means the file did not say.
type ModelConfig struct {
	ModelType             string   `json:"model_type,omitempty"`
	Architectures         []string `json:"architectures,omitempty"`
	PadTokenID            int      `json:"pad_token_id,omitempty"`
	VocabSize             int      `json:"vocab_size,omitempty"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings,omitempty"`
	// ModelMaxLength comes from tokenizer_config.json; tokenizers that set no
	// limit write a huge number there, which is ignored.
	ModelMaxLength int `json:"model_max_length,omitempty"`
}

// OpenModelDir finds and checks the files of a model directory. onnxFile,
// when not empty, names the ONNX file relative to dir; otherwise
// ONNXCandidates are tried.
func OpenModelDir(dir, onnxFile string) (ModelDir, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return ModelDir{}, fmt.Errorf("%w: directory %s: %v", ErrModel, dir, errors.Unwrap(err))
	}
	if !st.IsDir() {
		return ModelDir{}, fmt.Errorf("%w: %s is not a directory", ErrModel, dir)
	}
	m := ModelDir{Dir: dir, Tokenizer: filepath.Join(dir, "tokenizer.json")}
	if _, err := os.Stat(m.Tokenizer); err != nil {
		return ModelDir{}, fmt.Errorf("%w: %s has no tokenizer.json", ErrModel, dir)
	}
	candidates := ONNXCandidates
	if onnxFile != "" {
		candidates = []string{onnxFile}
	}
	for _, c := range candidates {
		p := filepath.Join(dir, c)
		if _, err := os.Stat(p); err == nil {
			m.ONNX = p
			break
		}
	}
	if m.ONNX == "" && onnxFile == "" {
		m.Checkpoint = hfgraph.FindCheckpoint(dir)
	}
	if m.ONNX == "" && m.Checkpoint == "" {
		if onnxFile != "" {
			return ModelDir{}, fmt.Errorf("%w: %s has no ONNX file %s", ErrModel, dir, onnxFile)
		}
		return ModelDir{}, fmt.Errorf("%w: %s has no ONNX file (looked for %s) and no safetensors checkpoint (%s or %s)", ErrModel, dir,
			strings.Join(candidates, ", "), hfgraph.SafetensorsFile, hfgraph.SafetensorsIndex)
	}
	for _, f := range []string{m.graphFile(), m.Tokenizer} {
		if err := checkNotPointer(f); err != nil {
			return ModelDir{}, err
		}
	}
	for _, name := range []string{"config.json", "tokenizer_config.json"} {
		if err := readJSONInto(filepath.Join(dir, name), &m.Config); err != nil {
			return ModelDir{}, err
		}
	}
	if m.Config.ModelMaxLength > 1<<20 {
		m.Config.ModelMaxLength = 0
	}
	// RoBERTa's positions start after padding_idx: 514 embeddings hold 512 tokens.
	m.Config.MaxPositionEmbeddings = hfgraph.UsablePositions(m.Config.Architectures, m.Config.MaxPositionEmbeddings, m.Config.PadTokenID)
	return m, nil
}

// graphFile is the file the graph comes from: the ONNX file, or the
// checkpoint it is built from.
func (m ModelDir) graphFile() string {
	if m.ONNX != "" {
		return m.ONNX
	}
	return m.Checkpoint
}

// lfsPointerPrefix starts every Git LFS pointer file.
var lfsPointerPrefix = []byte("version https://git-lfs.github.com/spec/")

// checkNotPointer rejects empty files and Git LFS pointer files, which is what
// a clone without git-lfs leaves in place of the weights.
func checkNotPointer(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrModel, err)
	}
	defer f.Close()
	head := make([]byte, 64)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: read %s: %v", ErrModel, path, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s is empty", ErrModel, path)
	}
	if bytes.HasPrefix(head[:n], lfsPointerPrefix) {
		return fmt.Errorf("%w: %s is a Git LFS pointer, not the file itself (run `git lfs pull` or `spladeq model pull`)", ErrModel, path)
	}
	return nil
}

// readJSONInto decodes an optional JSON file into v; a missing file is not an
// error, a malformed one is, with the line and column.
func readJSONInto(path string, v any) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrModel, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %s does not parse: %s", ErrModel, path, describeJSONError(data, err))
	}
	return nil
}

// describeJSONError adds the line and column to a JSON syntax error.
func describeJSONError(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var off int64
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return err.Error()
	}
	line, col := 1, 1
	for _, c := range data[:min(int(off), len(data))] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

// graphSpec is what the encoder needs to know about an ONNX graph.
type graphSpec struct {
	inputs    []string // in the order fed
	typeIDs   bool     // whether token_type_ids is an input
	output    string
	pooled    bool // output is [batch, vocab]
	gathered  bool // output is [tokens, vocab]: real tokens only (gatherTokens)
	maxPooled bool // output is [batch, vocab] max logits, not activated (blockHead)
	vocab     int  // static vocabulary dimension, or -1 when dynamic
	inputType ort.TensorElementDataType

	// tokenWeights: the output is one weight per token, [batch, seq] or
	// [batch, seq, 1] (outRank 2 or 3); pooled per token id in Go.
	tokenWeights bool
	outRank      int

	quantization hfgraph.Quantization
}

// graphIO reads a graph's inputs and outputs through a throwaway session of
// one thread that skips optimization: the runtime's default would start a
// thread per physical core of the machine, whatever the process's CPU limit
// (DefaultThreads), and pin them to CPUs a cpuset may not allow.
func graphIO(path string) ([]ort.InputOutputInfo, []ort.InputOutputInfo, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, nil, err
	}
	defer so.Destroy()
	if err := so.SetIntraOpNumThreads(1); err != nil {
		return nil, nil, err
	}
	if err := so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelDisableAll); err != nil {
		return nil, nil, err
	}
	return ort.GetInputOutputInfoWithOptions(path, so)
}

// inspectGraph reads the graph's inputs and outputs and decides how to feed
// it and how to read it: the first float32 output of rank 2 or 3, or the
// first one named in prefer.
func inspectGraph(path string, prefer ...string) (graphSpec, error) {
	return inspectGraphAs(path, "", prefer...)
}

// inspectGraphAs is inspectGraph for a sparse model whose output holds kind
// (OutputAuto: read from the shapes, pickSparseOutput); kind "" is
// inspectGraph's generic choice.
func inspectGraphAs(path string, kind OutputKind, prefer ...string) (graphSpec, error) {
	ins, outs, err := graphIO(path)
	if err != nil {
		return graphSpec{}, fmt.Errorf("%w: %s is not a loadable ONNX model: %v", ErrModel, path, err)
	}
	var g graphSpec
	for _, in := range ins {
		switch in.Name {
		case "input_ids", "attention_mask":
		case "token_type_ids":
			g.typeIDs = true
		default:
			return graphSpec{}, fmt.Errorf("%w: %s: graph input %q is not supported (want input_ids, attention_mask and optionally token_type_ids)", ErrModel, path, in.Name)
		}
		if in.DataType != ort.TensorElementDataTypeInt64 {
			return graphSpec{}, fmt.Errorf("%w: %s: graph input %q has element type %v, want int64", ErrModel, path, in.Name, in.DataType)
		}
		if len(in.Dimensions) != 2 {
			return graphSpec{}, fmt.Errorf("%w: %s: graph input %q has shape %v, want [batch, sequence]", ErrModel, path, in.Name, in.Dimensions)
		}
		g.inputs = append(g.inputs, in.Name)
	}
	if !contains(g.inputs, "input_ids") || !contains(g.inputs, "attention_mask") {
		return graphSpec{}, fmt.Errorf("%w: %s: graph inputs %v lack input_ids or attention_mask", ErrModel, path, g.inputs)
	}
	// Feed in a fixed order so tensors can be built without a lookup.
	g.inputs = []string{"input_ids", "attention_mask"}
	if g.typeIDs {
		g.inputs = append(g.inputs, "token_type_ids")
	}

	var seen []string
	var floats []outputShape
	var at []int // floats[k] is outs[at[k]]
	pick := -1
	for i, o := range outs {
		seen = append(seen, fmt.Sprintf("%s%v(%v)", o.Name, o.Dimensions, o.DataType))
		if o.OrtValueType != ort.ONNXTypeTensor || o.DataType != ort.TensorElementDataTypeFloat {
			continue
		}
		if r := len(o.Dimensions); r != 2 && r != 3 {
			continue
		}
		floats, at = append(floats, outputShape{o.Name, o.Dimensions}), append(at, i)
		if pick < 0 || (contains(prefer, o.Name) && !contains(prefer, outs[pick].Name)) {
			pick = i
		}
	}
	if kind != "" {
		pick = -1
		if k, got := pickSparseOutput(floats, kind); k >= 0 {
			pick = at[k]
			g.tokenWeights = got == OutputTokenWeights
		} else if kind != OutputAuto {
			return graphSpec{}, fmt.Errorf("%w: %s has no output that can hold %s: outputs are %s", ErrModel, path, kind, strings.Join(seen, ", "))
		}
	}
	if pick < 0 {
		return graphSpec{}, fmt.Errorf("%w: %s has no logits-shaped output: outputs are %s; want float32 [batch, sequence, N], pooled [batch, N] or token weights [batch, sequence(, 1)]", ErrModel, path, strings.Join(seen, ", "))
	}
	o := outs[pick]
	g.output = o.Name
	g.outRank = len(o.Dimensions)
	if g.tokenWeights {
		// The vector's width is the tokenizer's vocabulary, set by New.
		g.vocab = -1
		return g, nil
	}
	g.gathered = o.Name == GatheredOutput
	g.maxPooled = o.Name == MaxLogitsOutput
	g.pooled = len(o.Dimensions) == 2 && !g.gathered && !g.maxPooled
	g.vocab = int(o.Dimensions[len(o.Dimensions)-1])
	if g.vocab == 0 {
		return graphSpec{}, fmt.Errorf("%w: %s: output %q has a zero vocabulary dimension", ErrModel, path, o.Name)
	}
	if g.vocab < 0 {
		g.vocab = -1
	}
	return g, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// kind is what the output holds, as Info reports it.
func (g graphSpec) kind() OutputKind {
	switch {
	case g.tokenWeights:
		return OutputTokenWeights
	case g.pooled:
		return OutputPooled
	}
	return OutputLogits
}
