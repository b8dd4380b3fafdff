package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/splade"
	"github.com/spladeq/spladeq/splade/hfgraph"
)

// NewVectorizers builds every configured vectorizer. It is the one place
// modules are wired; an unknown module or a missing model fails with the
// vectorizer's key. On error, what was built is closed.
func NewVectorizers(cfg *config.Config) (map[string]Vectorizer, error) {
	out := map[string]Vectorizer{}
	names := make([]string, 0, len(cfg.Vectorizers))
	for n := range cfg.Vectorizers {
		names = append(names, n)
	}
	sort.Strings(names)
	auto := autoThreads(cfg.Vectorizers, runtime.GOMAXPROCS(0))
	for _, name := range names {
		vc := cfg.Vectorizers[name]
		if vc.Threads == 0 && (vc.Module == config.ModuleSPLADE || vc.Module == config.ModuleONNXDense) {
			vc.Threads = auto
		}
		v, err := newVectorizer(vc, cfg.Models.Dir)
		if err != nil {
			for _, built := range out {
				built.Close()
			}
			return nil, fmt.Errorf("vectorizers.%s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

// autoThreads is the intra-op thread count of a local model whose threads
// setting is 0: 0 (splade.DefaultThreads, one per core the process may use)
// unless a splade and an onnx-dense vectorizer are both configured. A
// hybrid query then encodes with both at once, and two passes each wanting
// every core slowed the hybrid query to 1.46x its slower encode plus the
// search; with half the cores each it was 1.14x, and documents encoded
// faster too (each call runs cores/threads passes at once). BENCHMARKS.md,
// "Hybrid queries". cores is runtime.GOMAXPROCS(0), not runtime.NumCPU():
// it follows the container's CPU quota (Go 1.25+), so a pod limited to 2
// CPUs on a 64-core node gets 1 thread per model, not 32.
func autoThreads(vcs map[string]config.Vectorizer, cores int) int {
	var sparse, dense bool
	for _, vc := range vcs {
		sparse = sparse || vc.Module == config.ModuleSPLADE
		dense = dense || vc.Module == config.ModuleONNXDense
	}
	if !sparse || !dense {
		return 0
	}
	return max(1, cores/2)
}

func newVectorizer(vc config.Vectorizer, modelsDir string) (Vectorizer, error) {
	model := ResolveModel(vc.Model, modelsDir)
	switch vc.Module {
	case config.ModuleSPLADE, config.ModuleSPLADEIDF, config.ModuleONNXDense:
		if !dirExists(model) {
			return nil, &ModelNotFoundError{Model: vc.Model, Tried: ModelCandidates(vc.Model, modelsDir)}
		}
		if _, err := hfgraph.ParseQuantization(vc.Quantize); err != nil {
			return nil, fmt.Errorf("quantize: %w", err)
		}
	}
	switch vc.Module {
	case config.ModuleSPLADE:
		enc, err := splade.New(model, encoderOptions(vc)...)
		if err != nil {
			return nil, err
		}
		return &spladeModule{enc}, nil
	case config.ModuleSPLADEIDF:
		return newSPLADEIDF(model, vc)
	case config.ModuleONNXDense:
		return newONNXDense(model, vc)
	case config.ModuleOpenAI:
		return newOpenAI(vc)
	case config.ModulePrecomputed:
		return &precomputed{dim: vc.Dimension}, nil
	case config.ModuleBM25:
		return newBM25(vc), nil
	}
	return nil, fmt.Errorf("unknown vectorizer module %q (want one of %v)", vc.Module, config.Modules)
}

// ResolveModel returns the first of ModelCandidates that exists, or path
// as given when none does.
func ResolveModel(path, modelsDir string) string {
	for _, c := range ModelCandidates(path, modelsDir) {
		if dirExists(c) {
			return c
		}
	}
	return path
}

// ModelCandidates are the places a model path may name, in order: the path
// as given; for a relative path, the same path under the model cache
// (modelsDir, where `spladeq model pull org/name` puts it) and under
// .deps/models of the spladeq repository that holds the working directory
// or the running binary (where `make models` installs the default models).
func ModelCandidates(path, modelsDir string) []string {
	out := []string{path}
	if filepath.IsAbs(path) || path == "" {
		return out
	}
	if modelsDir != "" {
		out = append(out, filepath.Join(modelsDir, path))
	}
	starts := []string{}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		if repo := findRepo(dir); repo != "" {
			c := filepath.Join(repo, config.InstalledModelsDir, path)
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// findRepo returns the spladeq repository at or above dir: the directory
// whose go.mod declares this module.
func findRepo(dir string) string {
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.HasPrefix(string(data), "module github.com/spladeq/spladeq\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// ModelNotFoundError is returned when a model directory is in none of the
// places its path may name.
type ModelNotFoundError struct {
	Model string
	Tried []string
}

func (e *ModelNotFoundError) Error() string {
	msg := fmt.Sprintf("model %q not found (looked in %s)", e.Model, strings.Join(e.Tried, ", "))
	if e.Model == config.DefaultSparseModel || e.Model == config.DefaultDenseModel {
		msg += "; it is one of the default models: install them with `make models` in the spladeq repository"
	} else {
		msg += "; give an existing model directory, or fetch one with `spladeq model pull ORG/NAME`"
	}
	return msg
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func encoderOptions(vc config.Vectorizer) []splade.Option {
	return []splade.Option{
		splade.WithONNXFile(vc.ONNXFile),
		splade.WithQuantization(quantization(vc.Quantize)),
		splade.WithOutputKind(splade.OutputKind(vc.Output)),
		splade.WithMaxLength(vc.MaxLength),
		splade.WithQueryMaxLength(vc.QueryMaxLength),
		splade.WithPruning(splade.Pruning{TopK: vc.TopK, MinWeight: float32(vc.MinWeight)}),
		splade.WithQueryPruning(splade.Pruning{TopK: vc.QueryTopK, MinWeight: float32(vc.QueryMinWeight)}),
		splade.WithBatchSize(orDefault(vc.BatchSize, 32)),
		splade.WithTokenBudget(orDefault(vc.TokenBudget, splade.DefaultTokenBudget)),
		splade.WithMaxPadding(orDefaultFloat(vc.MaxPadding, splade.DefaultMaxPadding)),
		splade.WithIntraOpThreads(vc.Threads),
		splade.WithTokenGather(vc.GatherTokens == nil || *vc.GatherTokens),
		splade.WithHeadBlock(HeadBlock(vc.HeadBlock)),
		// Off: the service runs other work on the same cores between passes.
		splade.WithSpinning(false),
	}
}

// quantization maps vectorizers.NAME.quantize ("" is fp32) to the
// encoder's; newVectorizer has refused a name it does not know.
func quantization(name string) hfgraph.Quantization {
	q, _ := hfgraph.ParseQuantization(name)
	return q
}

// HeadBlock maps a head-block setting as users write it —
// vectorizers.NAME.head_block and the --head-block flags: 0 the default
// width, -1 off, N > 0 that width — to splade.WithHeadBlock's argument
// (0 off).
func HeadBlock(n int) int {
	switch {
	case n == 0:
		return splade.DefaultHeadBlock
	case n < 0:
		return 0
	}
	return n
}

func orDefault(n, d int) int {
	if n == 0 {
		return d
	}
	return n
}

func orDefaultFloat(x, d float64) float64 {
	if x == 0 {
		return d
	}
	return x
}

// spladeModule is the splade module: the SPLADE encoder for documents and
// queries.
type spladeModule struct{ *splade.Encoder }

var (
	_ Sparse      = (*spladeModule)(nil)
	_ TermDecoder = (*spladeModule)(nil)
	_ Chunker     = (*spladeModule)(nil)
)

func (m *spladeModule) Module() string { return config.ModuleSPLADE }

func (m *spladeModule) EncodeDocuments(ctx context.Context, texts []string) ([]splade.SparseVector, error) {
	return m.Encode(ctx, texts)
}

// spladeIDF is the splade-idf module for document-only ("inference-free")
// sparse models: documents go through the model, a query is its tokens
// weighted by the model directory's idf.json (token → weight), so a query
// costs one tokenizer call. Tokens missing from the table weigh 1, as in
// OpenSearch's neural sparse query.
type spladeIDF struct {
	*splade.Encoder
	idf      map[uint32]float32
	query    splade.Pruning
	topTerms int
}

var (
	_ Sparse      = (*spladeIDF)(nil)
	_ TermDecoder = (*spladeIDF)(nil)
	_ Chunker     = (*spladeIDF)(nil)
)

// IDFFile is the IDF table of a document-only model, in its directory.
const IDFFile = "idf.json"

func newSPLADEIDF(model string, vc config.Vectorizer) (Vectorizer, error) {
	enc, err := splade.New(model, encoderOptions(vc)...)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(model, IDFFile)
	data, err := os.ReadFile(path)
	if err != nil {
		enc.Close()
		return nil, fmt.Errorf("%w: splade-idf needs %s: %v", splade.ErrModel, path, errors.Unwrap(err))
	}
	var table map[string]float32
	if err := json.Unmarshal(data, &table); err != nil {
		enc.Close()
		return nil, fmt.Errorf("%w: %s does not parse as {token: weight}: %v", splade.ErrModel, path, err)
	}
	ids, err := enc.VocabIDs()
	if err != nil {
		enc.Close()
		return nil, err
	}
	m := &spladeIDF{Encoder: enc, idf: map[uint32]float32{}, query: splade.Pruning{TopK: vc.QueryTopK, MinWeight: float32(vc.QueryMinWeight)}}
	for tok, w := range table {
		if id, ok := ids[tok]; ok {
			m.idf[id] = w
		}
	}
	return m, nil
}

func (m *spladeIDF) Module() string { return config.ModuleSPLADEIDF }

func (m *spladeIDF) EncodeDocuments(ctx context.Context, texts []string) ([]splade.SparseVector, error) {
	return m.Encode(ctx, texts)
}

// EncodeQueries weights each distinct query token by its IDF.
func (m *spladeIDF) EncodeQueries(ctx context.Context, texts []string) ([]splade.SparseVector, error) {
	out := make([]splade.SparseVector, len(texts))
	for i, t := range texts {
		ids, err := m.QueryTermIDs(t)
		if err != nil {
			var ie *splade.InputError
			if errors.As(err, &ie) {
				ie.Index = i
			}
			return nil, err
		}
		sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
		var v splade.SparseVector
		for j, id := range ids {
			if j > 0 && id == ids[j-1] {
				continue
			}
			w, ok := m.idf[id]
			if !ok {
				w = 1
			}
			if w > 0 {
				v.Indices = append(v.Indices, id)
				v.Values = append(v.Values, w)
			}
		}
		out[i] = m.query.Apply(v)
	}
	return out, ctx.Err()
}

// onnxDense is the onnx-dense module.
type onnxDense struct{ *splade.DenseEncoder }

var _ Dense = (*onnxDense)(nil)

func newONNXDense(model string, vc config.Vectorizer) (Vectorizer, error) {
	pool := splade.PoolMean
	if vc.Pooling == "cls" {
		pool = splade.PoolCLS
	}
	normalize := vc.Normalize == nil || *vc.Normalize
	enc, err := splade.NewDense(model, splade.WithONNXFile(vc.ONNXFile), splade.WithQuantization(quantization(vc.Quantize)), splade.WithMaxLength(vc.MaxLength), splade.WithPooling(pool), splade.WithNormalize(normalize),
		splade.WithBatchSize(orDefault(vc.BatchSize, 32)), splade.WithTokenBudget(orDefault(vc.TokenBudget, splade.DefaultTokenBudget)),
		splade.WithMaxPadding(orDefaultFloat(vc.MaxPadding, splade.DefaultMaxPadding)),
		splade.WithIntraOpThreads(vc.Threads), splade.WithSpinning(false))
	if err != nil {
		return nil, err
	}
	if vc.Dimension > 0 && vc.Dimension != enc.Dimension() {
		enc.Close()
		return nil, fmt.Errorf("dimension: configured %d but the model gives %d", vc.Dimension, enc.Dimension())
	}
	return &onnxDense{enc}, nil
}

func (m *onnxDense) Module() string { return config.ModuleONNXDense }

func (m *onnxDense) EmbedDocuments(ctx context.Context, texts []string) ([][]float32, error) {
	return m.Encode(ctx, texts)
}

func (m *onnxDense) EmbedQueries(ctx context.Context, texts []string) ([][]float32, error) {
	return m.Encode(ctx, texts)
}

// precomputed is the precomputed module: vectors come with the request.
type precomputed struct{ dim int }

var _ Dense = (*precomputed)(nil)

func (p *precomputed) Module() string { return config.ModulePrecomputed }
func (p *precomputed) Close() error   { return nil }
func (p *precomputed) Dimension() int { return p.dim }
func (p *precomputed) EmbedDocuments(context.Context, []string) ([][]float32, error) {
	return nil, ErrPrecomputed
}
func (p *precomputed) EmbedQueries(context.Context, []string) ([][]float32, error) {
	return nil, ErrPrecomputed
}
