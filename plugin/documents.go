package plugin

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spladeq/spladeq/api"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/splade"
)

// DocumentInput is a document to store.
type DocumentInput = api.DocumentInput

// UpsertResult says what an upsert stored.
type UpsertResult = api.UpsertResult

// checkText validates one text, appending problems for field.
func (s *Service) checkText(ps []Problem, field, id, text string, maxBytes int) []Problem {
	switch {
	case strings.TrimSpace(text) == "":
		return append(ps, Problem{Field: field, ID: id, Message: "must not be empty"})
	case len(text) > maxBytes:
		return append(ps, Problem{Field: field, ID: id, Message: fmt.Sprintf("is %d bytes, over the %d-byte limit", len(text), maxBytes)})
	case !utf8.ValidString(text):
		return append(ps, Problem{Field: field, ID: id, Message: "is not valid UTF-8"})
	case strings.IndexByte(text, 0) >= 0:
		return append(ps, Problem{Field: field, ID: id, Message: "contains a NUL byte"})
	}
	return ps
}

func checkVector(v []float32, want int) string {
	if want > 0 && len(v) != want {
		return fmt.Sprintf("has dimension %d, the collection's is %d", len(v), want)
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Sprintf("element %d is %v", i, x)
		}
	}
	return ""
}

// UpsertDocuments chunks, vectorizes and stores documents, replacing
// documents with the same ids (and removing chunks a shorter new version no
// longer has). Every document is checked first and every problem reported;
// then all chunks go to Qdrant in one request, so a failed call stores none
// of them.
func (s *Service) UpsertDocuments(ctx context.Context, collection string, docs []DocumentInput) (UpsertResult, error) {
	ci, err := s.cached(ctx, collection)
	if err != nil {
		return UpsertResult{}, err
	}
	var ps []Problem
	if len(docs) == 0 {
		ps = append(ps, Problem{Field: "documents", Message: "must not be empty"})
	}
	if len(docs) > s.cfg.Server.MaxTexts {
		ps = append(ps, Problem{Field: "documents", Message: fmt.Sprintf("has %d documents, over the limit of %d", len(docs), s.cfg.Server.MaxTexts)})
	}
	_, precomputedDense := s.vecs[ci.Dense].(*precomputed)
	seen := map[string]int{}
	for i, d := range docs {
		f := fmt.Sprintf("documents[%d]", i)
		if d.ID == "" {
			ps = append(ps, Problem{Field: f + ".id", Message: "must not be empty"})
		} else if j, dup := seen[d.ID]; dup {
			ps = append(ps, Problem{Field: f + ".id", ID: d.ID, Message: fmt.Sprintf("repeats documents[%d].id", j)})
		}
		seen[d.ID] = i
		ps = s.checkText(ps, f+".text", d.ID, d.Text, s.cfg.Server.MaxTextBytes)
		for k := range d.Payload {
			if k == qdrant.PayloadDocID || k == qdrant.PayloadChunk || k == qdrant.PayloadText {
				ps = append(ps, Problem{Field: f + ".payload." + k, ID: d.ID, Message: "is a reserved key"})
			}
		}
		switch {
		case d.Vector != nil && ci.Dense == None:
			ps = append(ps, Problem{Field: f + ".vector", ID: d.ID, Message: "the collection has no dense vector"})
		case d.Vector != nil:
			if msg := checkVector(d.Vector, ci.DenseSize); msg != "" {
				ps = append(ps, Problem{Field: f + ".vector", ID: d.ID, Message: msg})
			}
		case precomputedDense:
			ps = append(ps, Problem{Field: f + ".vector", ID: d.ID, Message: "is required: the collection's dense vectorizer is precomputed"})
		}
	}
	if err := problems(ps...); err != nil {
		return UpsertResult{}, err
	}

	chunks, err := s.chunk(ci, docs)
	if err != nil {
		return UpsertResult{}, err
	}
	if err := s.vectorize(ctx, ci, chunks, s.sparseDocs[ci.Sparse].Do, s.denseDocs[ci.Dense].Do); err != nil {
		return UpsertResult{}, err
	}
	wo, err := s.WriteOptions(ci)
	if err != nil {
		return UpsertResult{}, err
	}
	wo.Atomic = true
	start := time.Now()
	err = s.store.Upsert(ctx, collection, chunks, wo)
	s.metrics.observeStore("upsert", start)
	if err != nil {
		return UpsertResult{}, err
	}
	// Remove chunks an earlier, longer version of each document left.
	counts := map[string]int{}
	for _, c := range chunks {
		counts[c.ID]++
	}
	if err := s.store.DeleteStaleChunks(ctx, collection, counts); err != nil {
		return UpsertResult{}, fmt.Errorf("documents stored, but removing their stale chunks failed (retry the call): %w", err)
	}
	return UpsertResult{Documents: len(docs), Chunks: len(chunks)}, nil
}

// WriteOptions are the store options for writing to and searching a
// collection: its dense size and, when it carries BM25, the bm25
// vectorizer's model and options (the store computes BM25 from each
// point's text and each query's).
func (s *Service) WriteOptions(ci CollectionInfo) (qdrant.WriteOptions, error) {
	o := qdrant.WriteOptions{DenseSize: ci.DenseSize, SparseIDF: ci.IDF}
	if ci.BM25 == None || ci.BM25 == "" {
		return o, nil
	}
	v, ok := s.vecs[ci.BM25].(StoreSide)
	if !ok {
		if ci.BM25 != config.DefaultBM25 {
			return o, fmt.Errorf("collection %q's bm25 vectorizer %q is not configured", ci.Name, ci.BM25)
		}
		// Qdrant's defaults, as the default bm25 vectorizer has them.
		v = newBM25(config.Vectorizer{Module: config.ModuleBM25})
	}
	m := v.StoreModel()
	o.BM25 = &m
	return o, nil
}

// ChunkDocuments splits documents into chunks as UpsertDocuments does: the
// collection's sparse vectorizer's token windows (ingest.chunk_tokens,
// ingest.chunk_overlap), one chunk for a document with a vector.
func (s *Service) ChunkDocuments(ci CollectionInfo, docs []DocumentInput) ([]qdrant.Document, error) {
	return s.chunk(ci, docs)
}

// Vectorize fills chunks' sparse and dense vectors by calling the
// collection's vectorizers directly, without the service's micro-batching
// and queue limit: for batch jobs, which batch by themselves.
func (s *Service) Vectorize(ctx context.Context, ci CollectionInfo, chunks []qdrant.Document) error {
	var sparse func(context.Context, []string) ([]splade.SparseVector, error)
	var dense func(context.Context, []string) ([][]float32, error)
	if v, ok := s.vecs[ci.Sparse].(Sparse); ok {
		sparse = v.EncodeDocuments
	}
	if v, ok := s.vecs[ci.Dense].(Dense); ok {
		dense = v.EmbedDocuments
	}
	return s.vectorize(ctx, ci, chunks, sparse, dense)
}

// vectorize fills the vectors of chunks with the given encode functions;
// dense vectors already present (precomputed) are kept.
func (s *Service) vectorize(ctx context.Context, ci CollectionInfo, chunks []qdrant.Document,
	sparse func(context.Context, []string) ([]splade.SparseVector, error),
	dense func(context.Context, []string) ([][]float32, error)) error {
	texts := make([]string, len(chunks))
	for i, c := range chunks {
		texts[i] = c.Text
	}
	if ci.Sparse != None {
		if sparse == nil {
			return fmt.Errorf("collection's sparse vectorizer %q is not configured", ci.Sparse)
		}
		vecs, err := sparse(ctx, texts)
		if err != nil {
			return fmt.Errorf("encode documents with %s: %w", ci.Sparse, err)
		}
		for i := range chunks {
			chunks[i].Sparse = vecs[i]
		}
	}
	if ci.Dense == None {
		return nil
	}
	if dense == nil {
		return fmt.Errorf("collection's dense vectorizer %q is not configured", ci.Dense)
	}
	var need []int
	for i := range chunks {
		if chunks[i].Dense == nil {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return nil
	}
	sub := make([]string, len(need))
	for k, i := range need {
		sub[k] = texts[i]
	}
	vecs, err := dense(ctx, sub)
	if err != nil {
		return fmt.Errorf("embed documents with %s: %w", ci.Dense, err)
	}
	for k, i := range need {
		chunks[i].Dense = vecs[k]
	}
	return nil
}

// chunk splits documents into the connector's documents, one per chunk.
func (s *Service) chunk(ci CollectionInfo, docs []DocumentInput) ([]qdrant.Document, error) {
	var chunker Chunker
	if c, ok := s.vecs[ci.Sparse].(Chunker); ok {
		chunker = c
	}
	var out []qdrant.Document
	for _, d := range docs {
		if chunker == nil || d.Vector != nil {
			out = append(out, qdrant.Document{ID: d.ID, Text: d.Text, Payload: d.Payload, Dense: d.Vector})
			continue
		}
		parts, err := chunker.Chunks(d.Text, s.cfg.Ingest.ChunkTokens, s.cfg.Ingest.ChunkOverlap)
		if err != nil {
			return nil, fmt.Errorf("chunk document %q: %w", d.ID, err)
		}
		for n, p := range parts {
			out = append(out, qdrant.Document{ID: d.ID, Chunk: n, Text: p.Text, Payload: d.Payload})
		}
	}
	return out, nil
}

// DeleteDocument removes every chunk of a document.
func (s *Service) DeleteDocument(ctx context.Context, collection, id string) error {
	if id == "" {
		return problems(Problem{Field: "id", Message: "must not be empty"})
	}
	if _, err := s.cached(ctx, collection); err != nil {
		return err
	}
	defer s.metrics.observeStore("delete", time.Now())
	return s.store.DeleteDocument(ctx, collection, id)
}
