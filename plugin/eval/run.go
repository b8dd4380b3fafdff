package eval

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/plugin/ingest"
	"github.com/spladeq/spladeq/splade"
)

// Query is one BEIR query.
type Query struct {
	ID   string `json:"_id"`
	Text string `json:"text"`
}

// Dataset is a BEIR-layout directory: corpus.jsonl, queries.jsonl and
// qrels/<split>.tsv.
type Dataset struct {
	Dir     string
	Queries []Query // those with relevant judgements, in file order
	Qrels   Qrels
}

// LoadDataset reads queries and judgements (the corpus is streamed by the
// ingestion job). Bad lines are errors naming the file and line.
func LoadDataset(dir, split string) (*Dataset, error) {
	ds := &Dataset{Dir: dir, Qrels: Qrels{}}
	if _, err := os.Stat(filepath.Join(dir, "corpus.jsonl")); err != nil {
		return nil, fmt.Errorf("dataset %s: no corpus.jsonl", dir)
	}
	qrelsPath := filepath.Join(dir, "qrels", split+".tsv")
	f, err := os.Open(qrelsPath)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", dir, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		cols := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
		if line == 1 && len(cols) > 0 && cols[0] == "query-id" {
			continue
		}
		if len(cols) == 1 && cols[0] == "" {
			continue
		}
		if len(cols) != 3 {
			return nil, fmt.Errorf("%s:%d: want query-id, corpus-id, score separated by tabs", qrelsPath, line)
		}
		score, err := strconv.Atoi(cols[2])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: score %q is not an integer", qrelsPath, line, cols[2])
		}
		if ds.Qrels[cols[0]] == nil {
			ds.Qrels[cols[0]] = map[string]int{}
		}
		ds.Qrels[cols[0]][cols[1]] = score
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	qpath := filepath.Join(dir, "queries.jsonl")
	qf, err := os.Open(qpath)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", dir, err)
	}
	defer qf.Close()
	qs := bufio.NewScanner(qf)
	qs.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; qs.Scan(); line++ {
		if strings.TrimSpace(qs.Text()) == "" {
			continue
		}
		var q Query
		if err := json.Unmarshal(qs.Bytes(), &q); err != nil || q.ID == "" {
			return nil, fmt.Errorf("%s:%d: want {\"_id\": ..., \"text\": ...}", qpath, line)
		}
		if hasRelevant(ds.Qrels[q.ID]) {
			ds.Queries = append(ds.Queries, q)
		}
	}
	if len(ds.Queries) == 0 {
		return nil, fmt.Errorf("dataset %s: no query has a relevant judgement in %s", dir, qrelsPath)
	}
	return ds, qs.Err()
}

// Setting is one configuration to evaluate: one signal alone, or several
// fused.
type Setting struct {
	// Signals are searched in this order: one of bm25, sparse, dense, or
	// several fused.
	Signals []string `json:"signals"`
	Fusion  string   `json:"fusion,omitempty"`
	RRFK    int      `json:"rrf_k,omitempty"`
	// Weights of weighted fusion (relative).
	Weights map[string]float64 `json:"weights,omitempty"`
	Pruning splade.Pruning     `json:"pruning"`
}

// Mode is hybrid for several signals, else the signal.
func (s Setting) Mode() string {
	if len(s.Signals) == 1 {
		return s.Signals[0]
	}
	return "hybrid"
}

// Name describes a setting in one line, e.g. "bm25+sparse+dense rrf k=2",
// "sparse+dense weighted sparse=1 dense=3" or "bm25+sparse+dense
// weighted_rrf k=5 bm25=1 sparse=1 dense=2".
func (s Setting) Name() string {
	var b strings.Builder
	b.WriteString(strings.Join(s.Signals, "+"))
	if len(s.Signals) > 1 {
		switch s.Fusion {
		case "rrf":
			fmt.Fprintf(&b, " rrf k=%d", s.RRFK)
		case "dbsf":
			b.WriteString(" dbsf")
		case "weighted", "weighted_dbsf", "weighted_rrf":
			b.WriteString(" " + s.Fusion)
			if s.Fusion == "weighted_rrf" {
				fmt.Fprintf(&b, " k=%d", s.RRFK)
			}
			for _, sig := range s.Signals {
				fmt.Fprintf(&b, " %s=%g", sig, s.Weights[sig])
			}
		}
	}
	if s.Pruning.TopK > 0 {
		fmt.Fprintf(&b, " top%d", s.Pruning.TopK)
	}
	if s.Pruning.MinWeight > 0 {
		fmt.Fprintf(&b, " min%.2g", s.Pruning.MinWeight)
	}
	return b.String()
}

// Result is a setting's scores.
type Result struct {
	Setting
	Name string `json:"name"`
	// Default marks the configured default search (search.signals,
	// search.fusion, search.rrf_k, search.weights).
	Default   bool    `json:"default,omitempty"`
	NDCG10    float64 `json:"ndcg_at_10"`
	Recall100 float64 `json:"recall_at_100"`
	MRR10     float64 `json:"mrr_at_10"`
	// LatencyMS is the mean per-query latency: one query's encodings
	// (each measured alone, summed) plus its search.
	LatencyMS float64 `json:"latency_ms"`
	// AvgNNZ is the mean non-zeros per sparse document vector searched.
	AvgNNZ  float64 `json:"avg_nnz"`
	Queries int     `json:"queries"`
}

// Report is a run's results.
type Report struct {
	Dataset    string   `json:"dataset"`
	Collection string   `json:"collection"`
	Documents  uint64   `json:"documents"`
	Results    []Result `json:"results"`
	Best       Result   `json:"best"`
}

// ConfiguredSetting is the configured default search as a setting.
func ConfiguredSetting(s config.Search) Setting {
	set := Setting{Signals: append([]string(nil), s.Signals...), Fusion: s.Fusion, RRFK: s.RRFK}
	if s.Mode != "hybrid" {
		set.Signals = []string{s.Mode}
	}
	if len(set.Signals) > 1 && qdrant.Fusion(s.Fusion).Weighted() {
		set.Weights = map[string]float64{}
		for _, sig := range set.Signals {
			set.Weights[sig] = s.Weight(sig)
		}
	}
	if len(set.Signals) == 1 || (s.Fusion != "rrf" && s.Fusion != "weighted_rrf") {
		set.RRFK = 0
	}
	if len(set.Signals) == 1 {
		set.Fusion = ""
	}
	return set
}

// DefaultSettings compares each signal alone, their fusions at the
// configured defaults, and the configured default itself.
func DefaultSettings(s config.Search) []Setting {
	out := []Setting{ConfiguredSetting(s)}
	for _, sig := range config.Signals {
		out = append(out, Setting{Signals: []string{sig}})
	}
	for _, set := range signalSets() {
		out = append(out, Setting{Signals: set, Fusion: "rrf", RRFK: s.RRFK}, Setting{Signals: set, Fusion: "dbsf"})
		w := map[string]float64{}
		for _, sig := range set {
			w[sig] = s.Weight(sig)
		}
		out = append(out, Setting{Signals: set, Fusion: "weighted", Weights: w},
			Setting{Signals: set, Fusion: "weighted_rrf", RRFK: s.RRFK, Weights: w}, Setting{Signals: set, Fusion: "weighted_dbsf", Weights: w})
	}
	return dedupe(out)
}

// CompareSettings are the settings a comparison of two graphs scores: the
// configured default search, and the signals the graphs compute alone
// (sparse, dense). BM25 runs no model.
func CompareSettings(s config.Search) []Setting {
	return dedupe([]Setting{ConfiguredSetting(s), {Signals: []string{config.SignalSparse}}, {Signals: []string{config.SignalDense}}})
}

// signalSets are the sets of two or three signals, in canonical order.
func signalSets() [][]string {
	return [][]string{{"sparse", "dense"}, {"bm25", "sparse"}, {"bm25", "dense"}, {"bm25", "sparse", "dense"}}
}

// SweepRRFK are the RRF constants the sweep tries.
var SweepRRFK = []int{1, 2, 5, 10, 60}

// SweepWeightedRRFK are the RRF constants the sweep tries with weights
// over three signals (two signals: search.rrf_k).
var SweepWeightedRRFK = []int{2, 5, 10}

// SweepSettings covers each signal alone and, for every set of two or
// three signals, RRF with each of SweepRRFK, DBSF, and weighted and
// weighted_dbsf fusion over a grid of weights (two signals: the second's
// share 0, 0.1, 0.3 .. 0.9, 1; three: every weight of 1, 2 or 3, up to
// scale), and weighted_rrf over integer weights (Qdrant's weighted RRF
// divides ranks by the weights, so their scale matters: two signals every
// pair of 1, 2 or 3 with search.rrf_k, three every triple with each of
// SweepWeightedRRFK); then sparse index pruning levels, sparse alone and
// fused as configured.
func SweepSettings(s config.Search) []Setting {
	out := []Setting{ConfiguredSetting(s)}
	for _, sig := range config.Signals {
		out = append(out, Setting{Signals: []string{sig}})
	}
	for _, set := range signalSets() {
		for _, k := range SweepRRFK {
			out = append(out, Setting{Signals: set, Fusion: "rrf", RRFK: k})
		}
		out = append(out, Setting{Signals: set, Fusion: "dbsf"})
		if len(set) == 2 {
			for _, fusion := range []string{"weighted", "weighted_dbsf"} {
				for _, a := range []int{0, 1, 3, 5, 7, 9, 10} {
					out = append(out, Setting{Signals: set, Fusion: fusion, Weights: map[string]float64{set[0]: float64(10-a) / 10, set[1]: float64(a) / 10}})
				}
			}
			for _, w := range weightGrid(2) {
				out = append(out, Setting{Signals: set, Fusion: "weighted_rrf", RRFK: s.RRFK, Weights: map[string]float64{set[0]: w[0], set[1]: w[1]}})
			}
			continue
		}
		for _, w := range weightGrid(3) {
			weights := map[string]float64{set[0]: w[0], set[1]: w[1], set[2]: w[2]}
			out = append(out, Setting{Signals: set, Fusion: "weighted", Weights: weights}, Setting{Signals: set, Fusion: "weighted_dbsf", Weights: weights})
			for _, k := range SweepWeightedRRFK {
				out = append(out, Setting{Signals: set, Fusion: "weighted_rrf", RRFK: k, Weights: weights})
			}
		}
	}
	conf := ConfiguredSetting(s)
	for _, p := range []splade.Pruning{{TopK: 64}, {TopK: 32}, {TopK: 16}, {MinWeight: 0.5}} {
		pruned := conf
		pruned.Pruning = p
		out = append(out, Setting{Signals: []string{"sparse"}, Pruning: p}, pruned)
	}
	return dedupe(out)
}

// weightGrid is every n-tuple (n 2 or 3) of weights from {1, 2, 3} whose
// greatest common divisor is 1 (so no tuple is another scaled).
func weightGrid(n int) [][]float64 {
	var out [][]float64
	for a := 1; a <= 3; a++ {
		for b := 1; b <= 3; b++ {
			if n == 2 {
				if gcd(a, b) == 1 {
					out = append(out, []float64{float64(a), float64(b)})
				}
				continue
			}
			for c := 1; c <= 3; c++ {
				if gcd(gcd(a, b), c) == 1 {
					out = append(out, []float64{float64(a), float64(b), float64(c)})
				}
			}
		}
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// dedupe drops settings named as an earlier one.
func dedupe(in []Setting) []Setting {
	seen := map[string]bool{}
	var out []Setting
	for _, s := range in {
		if !seen[s.Name()] {
			seen[s.Name()] = true
			out = append(out, s)
		}
	}
	return out
}

// Runner evaluates settings with a Service.
type Runner struct {
	Service *plugin.Service
	// Collection receives the corpus; variants for pruning levels get a
	// suffix.
	Collection string
	// Progress receives one line per step.
	Progress io.Writer
	// Default is the configured default search, marked in the report.
	// Default: ConfiguredSetting of the service's configuration.
	Default *Setting
	// Fresh deletes the collection and ingests the corpus from its first
	// record, even when a previous run completed it: the vectors are then
	// the configured models' own (a comparison of two graphs must not read
	// a collection another graph filled).
	Fresh bool
	// Depth is each query's hits and each signal's candidates (prefetch
	// limit). Default 100, which Recall@100 needs; the search default,
	// search.prefetch_limit, is 50.
	Depth int
}

// Run ingests the corpus (a no-op when already complete), encodes every
// query once, and scores each setting.
func (r *Runner) Run(ctx context.Context, ds *Dataset, settings []Setting) (*Report, error) {
	if r.Progress == nil {
		r.Progress = io.Discard
	}
	cfg := r.Service.Config().Ingest
	cfg.Source = config.Source{Type: "jsonl", Path: filepath.Join(ds.Dir, "corpus.jsonl")}
	cfg.Fields = config.Fields{ID: "_id", Text: []string{"title", "text"}}
	cfg.Checkpoint = filepath.Join("data", r.Collection+".checkpoint.json")
	cfg.DeadLetter = filepath.Join("data", r.Collection+".deadletter.jsonl")
	job := &ingest.Job{Service: r.Service, Config: cfg, Collection: r.Collection, Progress: io.Discard, Restart: r.Fresh}
	if r.Fresh {
		if names, err := r.Service.Store().ListCollections(ctx); err != nil {
			return nil, err
		} else if slices.Contains(names, r.Collection) {
			if err := r.Service.Store().DeleteCollection(ctx, r.Collection); err != nil {
				return nil, err
			}
		}
	}
	sum, err := job.Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: %w", cfg.Source.Path, err)
	}
	fmt.Fprintf(r.Progress, "corpus: %d documents in collection %s\n", sum.Documents, r.Collection)
	ci, err := r.Service.Collection(ctx, r.Collection)
	if err != nil {
		return nil, err
	}

	texts := make([]string, len(ds.Queries))
	for i, q := range ds.Queries {
		texts[i] = q.Text
	}
	sparseQ, denseQ, encodeMS, err := r.encodeQueries(ctx, ci, texts)
	if err != nil {
		return nil, err
	}
	rep := &Report{Dataset: ds.Dir, Collection: r.Collection, Documents: ci.Points}
	// The stored points, read once: pruned variants and index sizes derive
	// from them.
	var base []qdrant.StoredPoint
	if ci.Sparse != plugin.None {
		if base, err = r.Service.Store().Scroll(ctx, r.Collection, nil, qdrant.WriteOptions{}); err != nil {
			return nil, err
		}
	}
	variants := map[splade.Pruning]string{{}: r.Collection}
	def := ConfiguredSetting(r.Service.Config().Search)
	if r.Default != nil {
		def = *r.Default
	}
	has := map[string]bool{"sparse": ci.Sparse != plugin.None, "dense": ci.Dense != plugin.None, "bm25": ci.BM25 != plugin.None}
	// The configured default leaves out signals the collection lacks, as
	// a search does.
	var defSignals []string
	for _, sig := range def.Signals {
		if has[sig] {
			defSignals = append(defSignals, sig)
		}
	}
	def.Signals = defSignals
	wo, err := r.Service.WriteOptions(ci)
	if err != nil {
		return nil, err
	}
settings:
	for _, s := range settings {
		for _, sig := range s.Signals {
			if !has[sig] {
				continue settings
			}
		}
		if s.Pruning != (splade.Pruning{}) && ci.Sparse == plugin.None {
			continue
		}
		coll, ok := variants[s.Pruning]
		if !ok {
			if coll, err = r.prunedVariant(ctx, ci, base, s.Pruning); err != nil {
				return nil, err
			}
			variants[s.Pruning] = coll
		}
		res, err := r.score(ctx, ds, s, coll, wo, sparseQ, denseQ)
		if err != nil {
			return nil, err
		}
		res.Default = res.Name == def.Name()
		for _, sig := range s.Signals {
			res.LatencyMS += encodeMS[sig]
		}
		res.AvgNNZ = averageNNZ(base, s.Pruning)
		fmt.Fprintf(r.Progress, "%-48s nDCG@10 %.4f  R@100 %.4f  MRR@10 %.4f  %.1f ms\n", res.Name, res.NDCG10, res.Recall100, res.MRR10, res.LatencyMS)
		rep.Results = append(rep.Results, res)
	}
	if len(rep.Results) == 0 {
		return nil, fmt.Errorf("no setting applies to collection %s (sparse %s, dense %s, bm25 %s)", r.Collection, ci.Sparse, ci.Dense, ci.BM25)
	}
	best := rep.Results[0]
	for _, res := range rep.Results[1:] {
		if res.NDCG10 > best.NDCG10 || (res.NDCG10 == best.NDCG10 && res.LatencyMS < best.LatencyMS) {
			best = res
		}
	}
	rep.Best = best
	return rep, nil
}

// encodeQueries encodes every query once (batched), and measures one
// query's encoding latency alone for each side (mean over up to 20).
func (r *Runner) encodeQueries(ctx context.Context, ci plugin.CollectionInfo, texts []string) ([]splade.SparseVector, [][]float32, map[string]float64, error) {
	sparse := make([]splade.SparseVector, len(texts))
	dense := make([][]float32, len(texts))
	maxTexts := r.Service.Config().Server.MaxTexts
	for start := 0; start < len(texts); start += maxTexts {
		end := min(start+maxTexts, len(texts))
		out, err := r.Service.Encode(ctx, plugin.EncodeInput{Texts: texts[start:end], Sparse: ci.Sparse, Dense: ci.Dense, Query: true})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("encode queries: %w", err)
		}
		for i, e := range out {
			if e.Sparse != nil {
				sparse[start+i] = e.Sparse.SparseVector
			}
			dense[start+i] = e.Dense
		}
	}
	sample := texts[:min(20, len(texts))]
	timeOne := func(sp, de string) (float64, error) {
		t0 := time.Now()
		for _, q := range sample {
			if _, err := r.Service.Encode(ctx, plugin.EncodeInput{Texts: []string{q}, Sparse: sp, Dense: de, Query: true}); err != nil {
				return 0, err
			}
		}
		return float64(time.Since(t0).Microseconds()) / 1000 / float64(len(sample)), nil
	}
	ms := map[string]float64{}
	var err error
	if ci.Sparse != plugin.None {
		if ms["sparse"], err = timeOne(ci.Sparse, plugin.None); err != nil {
			return nil, nil, nil, err
		}
	}
	if ci.Dense != plugin.None {
		if ms["dense"], err = timeOne(plugin.None, ci.Dense); err != nil {
			return nil, nil, nil, err
		}
	}
	return sparse, dense, ms, nil
}

// prunedVariant makes (or reuses) a copy of the collection whose sparse
// vectors are pruned, from the stored vectors: no re-encoding.
func (r *Runner) prunedVariant(ctx context.Context, ci plugin.CollectionInfo, base []qdrant.StoredPoint, p splade.Pruning) (string, error) {
	name := fmt.Sprintf("%s-top%d-min%g", r.Collection, p.TopK, p.MinWeight)
	store := r.Service.Store()
	if info, err := r.Service.Collection(ctx, name); err == nil && info.Points == ci.Points {
		return name, nil
	}
	store.DeleteCollection(ctx, name)
	info, err := r.Service.EnsureCollection(ctx, name, plugin.CollectionConfig{Sparse: ci.Sparse, Dense: ci.Dense, BM25: ci.BM25, IDF: &ci.IDF, Distance: ci.Distance})
	if err != nil {
		return "", err
	}
	wo, err := r.Service.WriteOptions(info)
	if err != nil {
		return "", err
	}
	docs := make([]qdrant.Document, 0, len(base))
	for _, pt := range base {
		payload := map[string]any{}
		for k, v := range pt.Payload {
			if k != qdrant.PayloadDocID && k != qdrant.PayloadChunk && k != qdrant.PayloadText {
				payload[k] = v
			}
		}
		chunk, _ := pt.Payload[qdrant.PayloadChunk].(int64)
		text, _ := pt.Payload[qdrant.PayloadText].(string)
		id, _ := pt.Payload[qdrant.PayloadDocID].(string)
		docs = append(docs, qdrant.Document{ID: id, Chunk: int(chunk), Text: text, Payload: payload, Sparse: pruned(pt.Sparse, p), Dense: pt.Dense})
	}
	fmt.Fprintf(r.Progress, "pruned copy %s: %d points\n", name, len(docs))
	return name, store.Upsert(ctx, name, docs, wo)
}

// pruned applies p to a copy of v (Apply reuses its argument's arrays).
func pruned(v splade.SparseVector, p splade.Pruning) splade.SparseVector {
	return p.Apply(splade.SparseVector{Indices: append([]uint32(nil), v.Indices...), Values: append([]float32(nil), v.Values...)})
}

// averageNNZ is the mean non-zeros per document of the index pruned by p.
func averageNNZ(base []qdrant.StoredPoint, p splade.Pruning) float64 {
	if len(base) == 0 {
		return 0
	}
	var total int
	for _, pt := range base {
		total += pruned(pt.Sparse, p).Len()
	}
	return float64(total) / float64(len(base))
}

// score runs every query of a setting against a collection.
func (r *Runner) score(ctx context.Context, ds *Dataset, s Setting, coll string, wo qdrant.WriteOptions, sparse []splade.SparseVector, dense [][]float32) (Result, error) {
	res := Result{Setting: s, Name: s.Name()}
	var elapsed time.Duration
	weights := map[qdrant.Signal]float64{}
	for sig, w := range s.Weights {
		weights[qdrant.Signal(sig)] = w
	}
	for i, q := range ds.Queries {
		depth := r.Depth
		if depth <= 0 {
			depth = 100
		}
		req := qdrant.SearchRequest{Fusion: qdrant.Fusion(s.Fusion), RRFK: s.RRFK, Weights: weights,
			Limit: depth, PrefetchLimit: depth, WithPayload: true}
		for _, sig := range s.Signals {
			req.Signals = append(req.Signals, qdrant.Signal(sig))
			switch sig {
			case "sparse":
				req.Sparse = sparse[i]
			case "dense":
				req.Dense = dense[i]
			case "bm25":
				req.Text = q.Text
			}
		}
		t0 := time.Now()
		hits, err := r.Service.Store().Search(ctx, coll, req, wo)
		elapsed += time.Since(t0)
		if err != nil {
			return res, fmt.Errorf("%s: query %s: %w", res.Name, q.ID, err)
		}
		run := make([]Ranked, len(hits))
		for j, h := range hits {
			run[j] = Ranked{DocID: h.DocID, Score: float64(h.Score)}
		}
		run = Order(run)
		rel := ds.Qrels[q.ID]
		res.NDCG10 += NDCG(run, rel, 10)
		res.Recall100 += Recall(run, rel, 100)
		res.MRR10 += MRR(run, rel, 10)
	}
	n := float64(len(ds.Queries))
	res.Queries = len(ds.Queries)
	res.NDCG10, res.Recall100, res.MRR10 = res.NDCG10/n, res.Recall100/n, res.MRR10/n
	res.LatencyMS = float64(elapsed.Microseconds()) / 1000 / n
	return res, nil
}

// SortedByQuality returns results by descending nDCG@10.
func (r *Report) SortedByQuality() []Result {
	out := append([]Result(nil), r.Results...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].NDCG10 > out[j].NDCG10 })
	return out
}
