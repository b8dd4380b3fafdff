package splade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/spladeq/spladeq/splade/hfgraph"
)

// ErrClosed is returned by the Encode methods after Close.
var ErrClosed = errors.New("encoder is closed")

// DefaultMaxLength is the document max length, in tokens, when neither an
// option nor the model's files give a smaller one.
const DefaultMaxLength = 512

// Mode selects document or query encoding.
type Mode int

const (
	// Document mode truncates at the document max length and applies the
	// document pruning.
	Document Mode = iota
	// Query mode truncates at the query max length and applies the query
	// pruning.
	Query
)

func (m Mode) String() string {
	if m == Query {
		return "query"
	}
	return "document"
}

type options struct {
	onnxFile       string
	runtimeLib     string
	maxLength      int
	queryMaxLength int
	batchSize      int
	tokenBudget    int
	maxPadding     float64
	intraOpThreads int
	spinning       bool
	gatherTokens   bool
	headBlock      int
	docPruning     Pruning
	queryPruning   Pruning
	pooling        Pooling // dense encoder only
	normalize      bool    // dense encoder only
	output         OutputKind
	// quant holds the quantization fields of the graphs built from a
	// checkpoint (Quantize and its knobs; the head is set per encoder).
	quant hfgraph.Options
}

func defaults() options {
	return options{batchSize: 32, tokenBudget: DefaultTokenBudget, maxPadding: DefaultMaxPadding, spinning: true, gatherTokens: true, headBlock: DefaultHeadBlock, normalize: true, output: OutputAuto}
}

// Option configures an Encoder; it fails on a value it cannot accept.
type Option func(*options) error

// WithONNXFile names the ONNX file inside the model directory. Default: the
// first of ONNXCandidates that exists.
func WithONNXFile(rel string) Option {
	return func(o *options) error { o.onnxFile = rel; return nil }
}

// WithRuntimeLibrary sets the path of libonnxruntime. Default:
// RuntimeLibraryPath().
func WithRuntimeLibrary(path string) Option {
	return func(o *options) error { o.runtimeLib = path; return nil }
}

// WithMaxLength sets the document max length in tokens, special tokens
// included. Default 0: the smallest of 512, the model's
// max_position_embeddings and the tokenizer's model_max_length.
func WithMaxLength(n int) Option {
	return func(o *options) error {
		if n < 0 || n == 1 {
			return fmt.Errorf("max length must be 0 (model default) or >= 2, got %d", n)
		}
		o.maxLength = n
		return nil
	}
}

// WithQueryMaxLength sets the query max length in tokens. Default 0: the
// document max length.
func WithQueryMaxLength(n int) Option {
	return func(o *options) error {
		if n < 0 || n == 1 {
			return fmt.Errorf("query max length must be 0 (document max length) or >= 2, got %d", n)
		}
		o.queryMaxLength = n
		return nil
	}
}

// WithBatchSize caps the texts per forward pass. Default 32.
func WithBatchSize(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("batch size must be >= 1, got %d", n)
		}
		o.batchSize = n
		return nil
	}
}

// DefaultTokenBudget is the default cap on tokens per forward pass. The
// logits a pass writes are 4 bytes × tokens × vocabulary (122 KB a token
// for BERT's 30522): 1024 tokens keep that at 125 MB. Measured on the
// trained small SPLADE, 256 texts: peak RSS 877 MB at 1024 against
// 1,630 MB at 4096, throughput the same within noise; on a BERT-base-sized
// model neither depends on it (docs/benchmarks-history.md).
const DefaultTokenBudget = 1024

// WithTokenBudget caps batch size × padded length per forward pass, which
// bounds the logits buffer (4 bytes × budget × vocab). Default
// DefaultTokenBudget. A single text longer than the budget still runs
// alone.
func WithTokenBudget(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("token budget must be >= 1, got %d", n)
		}
		o.tokenBudget = n
		return nil
	}
}

// DefaultMaxPadding is the default cap on the padding share of a batch.
const DefaultMaxPadding = 0.1

// WithMaxPadding caps the share of a batch's padded tokens that may be
// padding (0 < f <= 1; 1 disables the cap): a text that would push the
// share of its batch above f starts a new batch. Default DefaultMaxPadding.
func WithMaxPadding(f float64) Option {
	return func(o *options) error {
		if !(f > 0 && f <= 1) {
			return fmt.Errorf("max padding must be in (0, 1], got %v", f)
		}
		o.maxPadding = f
		return nil
	}
}

// WithIntraOpThreads sets ONNX Runtime's intra-op thread count. Default 0:
// DefaultThreads (one per physical core the process may use, within its
// CPU quota), passes of a call one after another.
func WithIntraOpThreads(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("intra-op threads must be >= 0, got %d", n)
		}
		o.intraOpThreads = n
		return nil
	}
}

// WithSpinning sets whether the runtime's worker threads spin while waiting
// for work. Default true (the runtime's default); turn it off when several
// encoders or other CPU-heavy work share the cores.
func WithSpinning(on bool) Option {
	return func(o *options) error { o.spinning = on; return nil }
}

// WithTokenGather sets whether a plain SPLADE export is rewritten at load
// time so the vocabulary projection runs on the real tokens only (padding
// rows are dropped before the [hidden, vocab] MatMul; see Info.Gathered).
// Default true; the rewrite is skipped, with the reason in Info.GatherSkipped,
// for graphs it does not recognise. Vectors are the same either way (within
// float rounding, tested to 1e-5).
func WithTokenGather(on bool) Option {
	return func(o *options) error { o.gatherTokens = on; return nil }
}

// WithHeadBlock sets how many vocabulary entries the blocked head projects
// and max-pools at a time: a plain SPLADE export is rewritten at load time so
// the [batch, seq, vocab] logits are never written out, only one slice of
// n entries at a time, each reduced to its max over the sequence in the
// graph (blockHead; Info.BlockedHead). Exact: the vectors equal the
// unmodified graph's (tested to 1e-5). Default DefaultHeadBlock; 0 turns
// it off (the graph is then gathered, WithTokenGather). An int8 head with
// per-token scales (hfgraph.Int8) is blocked too; graphs it does not
// recognise, and dynamically quantized heads (quantize_dynamic's per-tensor
// scale), are left to the gather rewrite, with the reason in
// Info.HeadSkipped.
func WithHeadBlock(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("head block %d: want vocabulary entries per slice > 0, or 0 for off", n)
		}
		o.headBlock = n
		return nil
	}
}

// WithQuantization sets the arithmetic of a graph built from a checkpoint:
// hfgraph.Float32 (the default) or hfgraph.Int8 (package hfgraph,
// Quantization). Unless WithONNXFile names a graph, Int8 runs the model
// directory's int8 graph file (hfgraph.Int8File, written by `spladeq model
// convert --quantize int8`) when there is one — refused if it has no
// quantized nodes or quantizes activations per tensor — else builds the
// int8 graph from the directory's safetensors checkpoint, even beside an
// ONNX file. A directory with only an ONNX graph is refused with an error
// naming the file (an ONNX graph is not quantized here; one already
// quantized loads as it is, without this option).
func WithQuantization(q hfgraph.Quantization) Option {
	return func(o *options) error {
		if q != hfgraph.Float32 && q != hfgraph.Int8 {
			return fmt.Errorf("quantization %v: want %s", q, strings.Join(hfgraph.Quantizations, " or "))
		}
		o.quant.Quantize = q
		return nil
	}
}

// WithPruning sets the pruning of document vectors. Default: none.
func WithPruning(p Pruning) Option {
	return func(o *options) error {
		if err := p.Validate(); err != nil {
			return err
		}
		o.docPruning = p
		return nil
	}
}

// WithQueryPruning sets the pruning of query vectors. Default: none.
func WithQueryPruning(p Pruning) Option {
	return func(o *options) error {
		if err := p.Validate(); err != nil {
			return err
		}
		o.queryPruning = p
		return nil
	}
}

// Info describes a loaded encoder.
type Info struct {
	Dir  string `json:"dir"`
	ONNX string `json:"onnx"`
	// Checkpoint is the safetensors checkpoint the graph was built from in
	// memory, when the directory has no ONNX file (ONNX is then empty).
	Checkpoint string   `json:"checkpoint,omitempty"`
	ModelType  string   `json:"model_type,omitempty"`
	Inputs     []string `json:"inputs"`
	Output     string   `json:"output"`
	// OutputKind is what the graph's output holds: logits, pooled or
	// token_weights (one weight per token, pooled per token id in Go).
	OutputKind OutputKind `json:"output_kind"`
	Pooled     bool       `json:"pooled"`
	// BlockedHead says the graph was rewritten at load time to project
	// onto the vocabulary HeadBlock entries at a time, max-pooling each
	// slice in the graph; HeadSkipped says why not, when wanted.
	BlockedHead bool   `json:"blocked_head"`
	HeadBlock   int    `json:"head_block,omitempty"`
	HeadSkipped string `json:"head_skipped,omitempty"`
	// Gathered says the graph was rewritten at load time to project only
	// the real tokens onto the vocabulary; GatherSkipped says why not, when
	// the rewrite was wanted but the graph did not allow it.
	Gathered       bool   `json:"gathered"`
	GatherSkipped  string `json:"gather_skipped,omitempty"`
	VocabSize      int    `json:"vocab_size"`
	MaxLength      int    `json:"max_length"`
	QueryMaxLength int    `json:"query_max_length"`
	// Quantization is the arithmetic of the graph's linear layers, "fp32"
	// or "int8", for a graph built from a checkpoint or an ONNX file
	// whose nodes say (QuantizedOp); "fp32" otherwise.
	Quantization string `json:"quantization"`
}

// Encoder encodes texts into SPLADE vectors. It is safe for concurrent use.
type Encoder struct {
	runner
	info Info

	docTok, queryTok *tokenizer

	windows windower // untruncated tokenizer for Chunks

	vocabOnce sync.Once
	vocab     []string
	vocabErr  error

	// special holds the special token ids a token-weights model's vectors
	// leave out.
	special map[uint32]bool

	mu     sync.RWMutex // guards closed against Close during Encode
	closed bool
}

// New loads the SPLADE model in dir (HuggingFace layout: tokenizer.json and
// model.onnx or onnx/model.onnx, optional config.json and
// tokenizer_config.json). A directory with no ONNX file but config.json and
// model.safetensors (a *ForMaskedLM checkpoint of a family package hfgraph
// knows) gets its graph built in memory, with the blocked head built in,
// in float32 or, with WithQuantization(hfgraph.Int8), in int8.
func New(dir string, opts ...Option) (*Encoder, error) {
	o, m, err := prepare(dir, opts)
	if err != nil {
		return nil, err
	}
	g, built, err := openGraph(m, sparseHead(o), o.output)
	if err != nil {
		return nil, err
	}
	if m.Config.VocabSize > 0 && g.vocab > 0 && m.Config.VocabSize != g.vocab {
		return nil, fmt.Errorf("%w: %s: output %q has vocabulary dimension %d but config.json says vocab_size %d", ErrModel, m.graphFile(), g.output, g.vocab, m.Config.VocabSize)
	}

	maxLen := maxLength(o.maxLength, m.Config)
	qLen := o.queryMaxLength
	if qLen == 0 {
		qLen = maxLen
	}

	data, err := os.ReadFile(m.Tokenizer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrModel, err)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%w: %s does not parse: %s", ErrModel, m.Tokenizer, describeJSONError(data, err))
	}
	if _, ok := probe["model"]; !ok {
		return nil, fmt.Errorf("%w: %s has no \"model\" section; is it a HuggingFace tokenizer.json?", ErrModel, m.Tokenizer)
	}

	e := &Encoder{runner: runner{opts: o, model: m, graph: g}}
	if e.docTok, err = newTokenizer(data, m.Tokenizer, maxLen); err != nil {
		return nil, err
	}
	if e.queryTok, err = newTokenizer(data, m.Tokenizer, qLen); err != nil {
		e.Close()
		return nil, err
	}
	// The graphs to try, best first: the blocked head, the gathered head,
	// the export as it is. A rewrite that does not apply, or whose session
	// fails to load or to run a probe batch, says why and the next is tried.
	var skipped, headSkipped string
	plain := !g.pooled && !g.gathered && !g.maxPooled && !g.tokenWeights
	if g.tokenWeights {
		if e.special, err = e.specialIDs(); err != nil {
			e.Close()
			return nil, err
		}
		const why = "the output is one weight per token, not vocabulary logits"
		if o.headBlock > 0 {
			headSkipped = why
		}
		if o.gatherTokens {
			skipped = why
		}
	}
	type attempt struct {
		fn     func(data []byte) ([]byte, error)
		output string
		why    *string
	}
	var attempts []attempt
	if plain && o.headBlock > 0 {
		attempts = append(attempts, attempt{func(data []byte) ([]byte, error) { return blockHeadRewrite(data, g.output, o.headBlock) }, MaxLogitsOutput, &headSkipped})
	}
	if plain && o.gatherTokens {
		attempts = append(attempts, attempt{func(data []byte) ([]byte, error) { return gatherTokens(data, g.output) }, GatheredOutput, &skipped})
	}
	opened := false
	for _, a := range attempts {
		e.graph = g
		if *a.why = e.rewrite(built, a.fn, a.output); *a.why != "" {
			continue
		}
		if err := e.openSession(); err != nil {
			*a.why = "the runtime refused the rewritten graph: " + err.Error()
			continue
		}
		if err := e.probe(); err != nil {
			*a.why = "the rewritten graph failed a probe batch: " + err.Error()
			e.session.Destroy()
			e.session = nil
			continue
		}
		opened = true
		break
	}
	if !opened {
		e.graph, e.onnxData = g, built
		if err := e.openSession(); err != nil {
			e.Close()
			return nil, err
		}
	}
	e.info = Info{
		Dir: m.Dir, ONNX: m.ONNX, Checkpoint: m.Checkpoint, ModelType: m.Config.ModelType, Inputs: g.inputs, Output: g.output,
		OutputKind: g.kind(), Pooled: g.pooled, BlockedHead: e.graph.maxPooled, HeadSkipped: headSkipped,
		Gathered: e.graph.gathered, GatherSkipped: skipped,
		VocabSize: g.vocab, MaxLength: maxLen, QueryMaxLength: qLen, Quantization: g.quantization.String(),
	}
	if e.info.VocabSize < 0 {
		e.info.VocabSize = int(e.docTok.tk.VocabSize())
	}
	if g.tokenWeights {
		// Ids the tokenizer gives are below its vocabulary size; config.json
		// may count a larger (padded) embedding table.
		e.info.VocabSize = max(e.info.VocabSize, m.Config.VocabSize)
	}
	if e.info.BlockedHead {
		e.info.HeadBlock = o.headBlock
	}
	return e, nil
}

// specialIDs reads the special token ids of the model's tokenizer
// (readSpecialIDs).
func (e *Encoder) specialIDs() (map[uint32]bool, error) {
	e.vocabOnce.Do(func() { e.vocab, e.vocabErr = readVocab(e.model.Tokenizer) })
	if e.vocabErr != nil {
		return nil, e.vocabErr
	}
	return readSpecialIDs(e.model.Dir, e.model.Tokenizer, e.vocab)
}

// probe runs two texts of different lengths (so one is padded) through a
// rewritten graph, then zeroes the work counters: a graph the rewrite got
// wrong for this export fails here, at load, not on the first request.
func (e *Encoder) probe() error {
	encs := tokenizeAll(e.docTok, []string{"probe", "a longer probe of the rewritten graph"})
	vecs, err := e.forward(encs, []int{0, 1})
	e.texts.Store(0)
	e.tokens.Store(0)
	e.batches.Store(0)
	if err == nil && len(vecs) != 2 {
		err = fmt.Errorf("%d vectors for 2 texts", len(vecs))
	}
	return err
}

// rewrite rewrites the graph in memory (blockHead or gatherTokens) into one
// whose output is output; the session is then created from the rewritten
// bytes. The graph is built, when not nil, else the ONNX file. It returns
// why it did not, or "".
func (e *Encoder) rewrite(built []byte, fn func(data []byte) ([]byte, error), output string) string {
	data := built
	if data == nil {
		var err error
		if data, err = os.ReadFile(e.model.ONNX); err != nil {
			return err.Error()
		}
	}
	out, err := fn(data)
	if err != nil {
		return err.Error()
	}
	e.onnxData = out
	e.graph.output = output
	e.graph.gathered = output == GatheredOutput
	e.graph.maxPooled = output == MaxLogitsOutput
	return ""
}

// prepare applies the options, opens the model directory and starts the
// runtime: what every encoder constructor does first.
func prepare(dir string, opts []Option) (options, ModelDir, error) {
	o := defaults()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, ModelDir{}, fmt.Errorf("splade: %w", err)
		}
	}
	if o.quant.Quantize == hfgraph.Int8 && o.onnxFile == "" {
		// The directory's int8 graph, when it has one, runs as it is.
		p := filepath.Join(dir, hfgraph.Int8File)
		if _, err := os.Stat(p); err == nil {
			if err := checkInt8File(p, dir); err != nil {
				return o, ModelDir{}, err
			}
			o.onnxFile, o.quant.Quantize = hfgraph.Int8File, hfgraph.Float32
		}
	}
	m, err := OpenModelDir(dir, o.onnxFile)
	if err != nil {
		return o, ModelDir{}, err
	}
	if o.quant.Quantize != hfgraph.Float32 && o.onnxFile == "" && m.ONNX != "" {
		// A quantized graph is built from the checkpoint, when there is one
		// beside the ONNX file.
		if ck := hfgraph.FindCheckpoint(dir); ck != "" {
			if err := checkNotPointer(ck); err != nil {
				return o, ModelDir{}, err
			}
			m.ONNX, m.Checkpoint = "", ck
		}
	}
	return o, m, initRuntime(o.runtimeLib)
}

// maxLength is the configured max length, or the smallest of
// DefaultMaxLength and the limits the model's files state.
func maxLength(configured int, mc ModelConfig) int {
	if configured > 0 {
		return configured
	}
	n := DefaultMaxLength
	for _, limit := range []int{mc.MaxPositionEmbeddings, mc.ModelMaxLength} {
		if limit > 0 && limit < n {
			n = limit
		}
	}
	return n
}

// runner owns a session and runs padded batches of tokenized texts; the
// SPLADE and dense encoders share it and differ only in postprocessing.
type runner struct {
	opts    options
	model   ModelDir
	graph   graphSpec
	session *ort.DynamicAdvancedSession
	// onnxData, when set, is the rewritten graph the session is created
	// from instead of model.ONNX; dropped once the session exists.
	onnxData []byte
	// bufMu guards free: output buffers reused across batches. Unlike a
	// sync.Pool they survive garbage collections, so a [batch, seq, vocab]
	// buffer of hundreds of MB is not page-faulted in again after each.
	bufMu sync.Mutex
	free  [][]float32
	// threads is the intra-op thread count the session runs with.
	threads int

	texts, tokens, batches atomic.Uint64
}

// sessionProfile, when set, turns on ONNX Runtime's profiling of the
// sessions opened from then on: each writes a JSON trace of every node's
// time, named from this prefix, when it is destroyed. Benchmarks set it
// (BenchmarkInt8OpProfile).
var sessionProfile = ""

// Stats counts the work a runner has done since it was created.
type Stats struct {
	Texts   uint64 `json:"texts"`
	Tokens  uint64 `json:"tokens"` // non-padding tokens, special tokens included
	Batches uint64 `json:"batches"`
}

// Stats returns the work done so far.
func (e *runner) Stats() Stats {
	return Stats{Texts: e.texts.Load(), Tokens: e.tokens.Load(), Batches: e.batches.Load()}
}

// Threads is the intra-op thread count each forward pass runs with: the
// one set, or DefaultThreads when none was.
func (e *runner) Threads() int { return e.threads }

// Quantization is the arithmetic of the graph's linear layers, "fp32" or
// "int8" (Info.Quantization).
func (e *runner) Quantization() string { return e.graph.quantization.String() }

func (e *runner) openSession() error {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return fmt.Errorf("%w: session options: %v", ErrRuntime, err)
	}
	defer so.Destroy()
	threads := e.opts.intraOpThreads
	if threads == 0 {
		threads = DefaultThreads()
	}
	if err := so.SetIntraOpNumThreads(threads); err != nil {
		return fmt.Errorf("%w: intra-op threads: %v", ErrRuntime, err)
	}
	e.threads = threads
	if err := so.SetInterOpNumThreads(1); err != nil {
		return fmt.Errorf("%w: inter-op threads: %v", ErrRuntime, err)
	}
	if !e.opts.spinning {
		if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
			return fmt.Errorf("%w: spinning: %v", ErrRuntime, err)
		}
	}
	if sessionProfile != "" {
		if err := so.EnableProfiling(sessionProfile); err != nil {
			return fmt.Errorf("%w: profiling: %v", ErrRuntime, err)
		}
	}
	var s *ort.DynamicAdvancedSession
	if e.onnxData != nil {
		s, err = ort.NewDynamicAdvancedSessionWithONNXData(e.onnxData, e.graph.inputs, []string{e.graph.output}, so)
		e.onnxData = nil
		// The file and its rewrite (twice the model's size) are garbage
		// now: hand the memory back instead of leaving it resident until
		// the scavenger gets to it.
		debug.FreeOSMemory()
	} else {
		s, err = ort.NewDynamicAdvancedSession(e.model.ONNX, e.graph.inputs, []string{e.graph.output}, so)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: create session: %v", ErrModel, e.model.graphFile(), err)
	}
	e.session = s
	return nil
}

// Info describes the loaded model and the effective settings.
func (e *Encoder) Info() Info { return e.info }

// Encode encodes documents. The result has one vector per text, in input
// order; a text's vector does not depend on the other texts of the call.
func (e *Encoder) Encode(ctx context.Context, texts []string) ([]SparseVector, error) {
	return e.EncodeMode(ctx, Document, texts)
}

// EncodeQueries encodes queries with the query max length and pruning.
func (e *Encoder) EncodeQueries(ctx context.Context, texts []string) ([]SparseVector, error) {
	return e.EncodeMode(ctx, Query, texts)
}

// EncodeMode encodes texts in the given mode. It checks ctx before every
// forward pass; a pass already running is not interrupted.
func (e *Encoder) EncodeMode(ctx context.Context, mode Mode, texts []string) ([]SparseVector, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, ErrClosed
	}
	for i, t := range texts {
		if err := checkText(i, t); err != nil {
			return nil, err
		}
	}
	tok, pruning := e.docTok, e.opts.docPruning
	if mode == Query {
		tok, pruning = e.queryTok, e.opts.queryPruning
	}
	encs := tokenizeAll(tok, texts)
	out := make([]SparseVector, len(texts))
	err := e.eachBatch(ctx, planBatches(encs, e.opts.batching()), func(batch []int) error {
		vecs, err := e.forward(encs, batch)
		if err != nil {
			return err
		}
		for k, i := range batch {
			out[i] = pruning.Apply(vecs[k])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachBatch runs fn on every batch, checking ctx before each. With the
// default intra-op threads (DefaultThreads) the batches run one after
// another, each on every core the process may use; with fewer threads per pass set
// (WithIntraOpThreads), cores/threads batches run at once, so one caller
// still keeps every core busy. The first error stops the rest.
func (e *runner) eachBatch(ctx context.Context, batches [][]int, fn func(batch []int) error) error {
	par := 1
	if t := e.opts.intraOpThreads; t > 0 {
		par = max(1, maxProcs()/t)
	}
	par = min(par, len(batches))
	if par <= 1 {
		for _, batch := range batches {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(batch); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan []int)
	var wg sync.WaitGroup
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range next {
				if err := fn(batch); err != nil {
					cancel(err)
				}
			}
		}()
	}
	for _, batch := range batches {
		if ctx.Err() != nil {
			break
		}
		next <- batch
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// tokenizeAll tokenizes texts on all cores; the tokenizer is thread-safe.
func tokenizeAll(tok *tokenizer, texts []string) []encoded {
	encs := make([]encoded, len(texts))
	workers := min(len(texts), maxProcs())
	if workers <= 1 {
		for i, t := range texts {
			encs[i] = tok.encode(t)
		}
		return encs
	}
	var wg sync.WaitGroup
	next := make(chan int, len(texts))
	for i := range texts {
		next <- i
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				encs[i] = tok.encode(texts[i])
			}
		}()
	}
	wg.Wait()
	return encs
}

// batchPolicy is how texts are grouped into forward passes.
type batchPolicy struct {
	size, budget int
	// maxPadding is the largest share of a batch's padded tokens that may
	// be padding; 1 disables the cap.
	maxPadding float64
}

func (o options) batching() batchPolicy {
	return batchPolicy{size: o.batchSize, budget: o.tokenBudget, maxPadding: o.maxPadding}
}

// planBatches groups text positions into batches of similar length: sorted
// by token count (stable, so equal lengths keep input order), each batch at
// most p.size texts, at most p.budget padded tokens, and at most
// p.maxPadding of its padded tokens padding. Padding costs a full forward
// pass per padded position (and attention grows with the padded length),
// so on CPU a small batch of even lengths beats a large ragged one.
func planBatches(encs []encoded, p batchPolicy) [][]int {
	order := make([]int, len(encs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(encs[order[a]].ids) < len(encs[order[b]].ids) })
	var batches [][]int
	var cur []int
	real := 0
	for _, i := range order {
		// Sorted ascending, so the newcomer sets the padded length.
		n := len(encs[i].ids)
		padded := (len(cur) + 1) * n
		if len(cur) > 0 && (len(cur) >= p.size || padded > p.budget ||
			float64(padded-real-n) > p.maxPadding*float64(padded)) {
			batches = append(batches, cur)
			cur, real = nil, 0
		}
		cur = append(cur, i)
		real += n
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return batches
}

// run runs one padded batch and hands the raw output, its shape and each
// row's token count to post; the output buffer is reused after post returns.
func (e *runner) run(encs []encoded, batch []int, post func(data []float32, shape ort.Shape, lengths []int) error) error {
	seq := 0
	for _, i := range batch {
		seq = max(seq, len(encs[i].ids))
	}
	b := len(batch)
	ids := make([]int64, b*seq)
	mask := make([]int64, b*seq)
	var types []int64
	if e.graph.typeIDs {
		types = make([]int64, b*seq)
	}
	lengths := make([]int, b)
	toks := 0
	for k, i := range batch {
		enc := encs[i]
		lengths[k] = len(enc.ids)
		toks += len(enc.ids)
		copy(ids[k*seq:], enc.ids)
		for t := range enc.ids {
			mask[k*seq+t] = 1
		}
		if types != nil {
			copy(types[k*seq:], enc.types)
		}
	}
	shape := ort.NewShape(int64(b), int64(seq))
	inputs := make([]ort.Value, 0, 3)
	defer func() {
		for _, v := range inputs {
			v.Destroy()
		}
	}()
	for _, data := range [][]int64{ids, mask, types} {
		if data == nil {
			continue
		}
		t, err := ort.NewTensor(shape, data)
		if err != nil {
			return fmt.Errorf("%w: input tensor: %v", ErrRuntime, err)
		}
		inputs = append(inputs, t)
	}

	// Preallocate the output when its size is known, so the runtime writes
	// straight into a reused Go buffer instead of allocating and copying.
	var outShape ort.Shape
	switch {
	case e.graph.tokenWeights:
		outShape = ort.NewShape(int64(b), int64(seq))
		if e.graph.outRank == 3 {
			outShape = ort.NewShape(int64(b), int64(seq), 1)
		}
		if seq == 0 { // every text empty: nothing to run
			e.count(b, 0)
			return post(nil, outShape, lengths)
		}
	case e.graph.pooled || e.graph.maxPooled:
		outShape = ort.NewShape(int64(b), int64(e.graph.vocab))
		if toks == 0 && e.graph.maxPooled { // every text empty: nothing to run
			e.count(b, 0)
			return post(nil, outShape, lengths)
		}
	case e.graph.gathered:
		outShape = ort.NewShape(int64(toks), int64(e.graph.vocab))
		if toks == 0 { // nothing to project; the runtime refuses empty tensors
			e.count(b, 0)
			return post(nil, outShape, lengths)
		}
	default:
		outShape = ort.NewShape(int64(b), int64(seq), int64(e.graph.vocab))
	}
	outputs := []ort.Value{nil}
	if e.graph.vocab > 0 || e.graph.tokenWeights {
		buf := e.getBuf(int(outShape.FlattenedSize()))
		defer e.putBuf(buf)
		t, err := ort.NewTensor(outShape, buf)
		if err != nil {
			return fmt.Errorf("%w: output tensor: %v", ErrRuntime, err)
		}
		outputs[0] = t
	}
	err := e.session.Run(inputs, outputs)
	if outputs[0] != nil {
		defer outputs[0].Destroy()
	}
	if err != nil {
		hint := ""
		if e.graph.tokenWeights {
			hint = fmt.Sprintf(" (output %q was taken for one weight per token; if it is not, set the vectorizer's output kind)", e.graph.output)
		}
		return fmt.Errorf("%w: %s: run batch of %d×%d: %v%s", ErrRuntime, e.model.graphFile(), b, seq, err, hint)
	}
	out, ok := outputs[0].(*ort.Tensor[float32])
	if !ok {
		return fmt.Errorf("%w: %s: output %q is %T, want a float32 tensor", ErrModel, e.model.graphFile(), e.graph.output, outputs[0])
	}
	got := out.GetShape()
	if len(got) != len(outShape) || got[0] != outShape[0] || ((len(got) == 3 || e.graph.tokenWeights) && got[1] != int64(seq)) {
		return fmt.Errorf("%w: %s: output %q has shape %v for a %d×%d batch", ErrModel, e.model.graphFile(), e.graph.output, got, b, seq)
	}
	e.count(b, toks)
	return post(out.GetData(), got, lengths)
}

func (e *runner) count(texts, tokens int) {
	e.texts.Add(uint64(texts))
	e.tokens.Add(uint64(tokens))
	e.batches.Add(1)
}

// forward runs one padded batch and returns its SPLADE vectors in batch
// order.
func (e *Encoder) forward(encs []encoded, batch []int) ([]SparseVector, error) {
	vecs := make([]SparseVector, len(batch))
	err := e.run(encs, batch, func(data []float32, shape ort.Shape, lengths []int) error {
		if e.graph.tokenWeights {
			seq := int(shape[1])
			for k, i := range batch {
				vecs[k] = poolTokenWeights(data[k*seq:k*seq+lengths[k]], encs[i].ids, e.special, e.info.VocabSize)
			}
			return nil
		}
		vocab := int(shape[len(shape)-1])
		if e.graph.maxPooled {
			for k := range batch {
				if lengths[k] == 0 {
					vecs[k] = sparsify(nil)
					continue
				}
				row := data[k*vocab : (k+1)*vocab]
				activate(row)
				vecs[k] = sparsify(row)
			}
			return nil
		}
		if e.graph.pooled {
			for k := range batch {
				vecs[k] = sparsify(data[k*vocab : (k+1)*vocab])
			}
			return nil
		}
		// Sequence k's rows start at k*seq in padded logits, right after
		// sequence k-1's real tokens in gathered ones.
		starts := make([]int, len(batch))
		for k := range starts {
			if e.graph.gathered {
				if k > 0 {
					starts[k] = starts[k-1] + lengths[k-1]
				}
			} else {
				starts[k] = k * int(shape[1])
			}
		}
		poolRows(data, starts, lengths, vocab)
		for k := range batch {
			vecs[k] = sparsify(pooled(data, starts[k], lengths[k], vocab))
		}
		return nil
	})
	return vecs, err
}

// maxFreeBufs is how many output buffers a runner keeps: enough for the
// passes the core budget lets run at once.
const maxFreeBufs = 2

// getBuf returns a buffer of n floats: the smallest kept one that is large
// enough, else a new one.
func (e *runner) getBuf(n int) []float32 {
	e.bufMu.Lock()
	defer e.bufMu.Unlock()
	best := -1
	for i, b := range e.free {
		if cap(b) >= n && (best < 0 || cap(b) < cap(e.free[best])) {
			best = i
		}
	}
	if best < 0 {
		return make([]float32, n)
	}
	b := e.free[best]
	e.free = append(e.free[:best], e.free[best+1:]...)
	return b[:n]
}

// putBuf keeps b for reuse, dropping the smallest kept buffer when full.
func (e *runner) putBuf(b []float32) {
	e.bufMu.Lock()
	defer e.bufMu.Unlock()
	if len(e.free) < maxFreeBufs {
		e.free = append(e.free, b)
		return
	}
	small := 0
	for i := range e.free {
		if cap(e.free[i]) < cap(e.free[small]) {
			small = i
		}
	}
	if cap(b) > cap(e.free[small]) {
		e.free[small] = b
	}
}

// Terms returns v's n heaviest terms as vocabulary tokens, heaviest first;
// n <= 0 returns all. Ids outside the vocabulary decode as "[id]".
func (e *Encoder) Terms(v SparseVector, n int) ([]Term, error) {
	e.vocabOnce.Do(func() { e.vocab, e.vocabErr = readVocab(e.model.Tokenizer) })
	if e.vocabErr != nil {
		return nil, e.vocabErr
	}
	pos := topPositions(v, n)
	terms := make([]Term, len(pos))
	for k, i := range pos {
		id := v.Indices[i]
		tok := fmt.Sprintf("[%d]", id)
		if int(id) < len(e.vocab) && e.vocab[id] != "" {
			tok = e.vocab[id]
		}
		terms[k] = Term{Token: tok, Weight: v.Values[i]}
	}
	return terms, nil
}

// TokenIDs tokenizes text in the given mode (truncated, with special tokens)
// without running the model.
func (e *Encoder) TokenIDs(mode Mode, text string) ([]int64, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, ErrClosed
	}
	if err := checkText(0, text); err != nil {
		return nil, err
	}
	tok := e.docTok
	if mode == Query {
		tok = e.queryTok
	}
	return tok.encode(text).ids, nil
}

// Close releases the session and the tokenizers. It waits for running Encode
// calls, is safe to call twice, and joins the errors of each handle.
func (e *Encoder) Close() error {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	var errs []error
	if e.session != nil {
		errs = append(errs, e.session.Destroy())
		e.session = nil
		e.free = nil
	}
	errs = append(errs, e.docTok.close(), e.queryTok.close(), e.windows.close())
	return errors.Join(errs...)
}

// VocabIDs returns the token → id map of the tokenizer's vocabulary.
func (e *Encoder) VocabIDs() (map[string]uint32, error) {
	e.vocabOnce.Do(func() { e.vocab, e.vocabErr = readVocab(e.model.Tokenizer) })
	if e.vocabErr != nil {
		return nil, e.vocabErr
	}
	ids := make(map[string]uint32, len(e.vocab))
	for id, tok := range e.vocab {
		if tok != "" {
			ids[tok] = uint32(id)
		}
	}
	return ids, nil
}
