package plugin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
)

// MetaAdding is the collection metadata key naming a signal being added in
// place (AddSignal): its vector exists, but not every point has it yet.
// Searches leave the signal out until AddSignal removes the key.
const MetaAdding = "spladeq.adding_signal"

// ErrAddVectorUnsupported is returned by AddSignal when the Qdrant server
// cannot add a vector to an existing collection (before 1.18).
var ErrAddVectorUnsupported = errors.New("the Qdrant server cannot add a vector to an existing collection")

// AddSignalOptions tune AddSignal.
type AddSignalOptions struct {
	// BatchSize is how many points are read, vectorized and written at a
	// time. Default ingest.batch_size.
	BatchSize int
	// Progress, when set, is called after every batch.
	Progress func(AddSignalProgress)
}

// AddSignalProgress is where an AddSignal stands.
type AddSignalProgress struct {
	Collection, Signal string
	// Filled is how many points have the signal's vector; Total how many
	// points the collection had when the run began.
	Filled, Total uint64
	// Written is how many points this run gave the vector.
	Written uint64
}

// AddSignalResult is what AddSignal did.
type AddSignalResult struct {
	Collection, Signal, Vectorizer string
	// Created reports that this run created the vector (false: it existed,
	// from an earlier run that was stopped, or the collection had it).
	Created bool
	// Complete reports that the collection already had the signal, whole:
	// nothing was done.
	Complete bool
	// Written is how many points this run gave the vector.
	Written uint64
	// NoText counts points without stored text (payload "text"), which
	// get no vector of the signal; Empty counts points whose SPLADE vector
	// came out empty, not stored (as ingestion stores none). Both stay
	// without the vector.
	NoText, Empty uint64
	// Filled of Total points have the vector at the end.
	Filled, Total uint64
}

// addPasses bounds the passes over the points still lacking the vector:
// a pass can miss points written behind it without the vector (by a
// process with a configuration that lacks the signal).
const addPasses = 4

// AddSignal gives an existing collection a signal (bm25, sparse or dense)
// in place, vectorized by the vectorizer the configuration names for it
// (collection.bm25, collection.sparse, collection.dense), without
// re-encoding the signals the collection has. It records the signal as
// being added (collection metadata MetaAdding, with the vectorizer), creates
// the vector (Qdrant 1.18 and later, or the embedded store; before 1.18 it
// returns ErrAddVectorUnsupported having changed nothing), then fills it
// from each point's stored text, a batch at a time, and finally clears the
// mark. It can be stopped at any moment (even by kill -9) and run again: it
// resumes with the points that still lack the vector. Searches leave the
// signal out while it runs, and name it when asked for it.
func (s *Service) AddSignal(ctx context.Context, collection, signal string, o AddSignalOptions) (AddSignalResult, error) {
	res := AddSignalResult{Collection: collection, Signal: signal}
	if !slices.Contains(config.Signals, signal) {
		return res, problems(Problem{Field: "signal", Message: fmt.Sprintf("must be one of %s, got %q", strings.Join(config.Signals, ", "), signal)})
	}
	if o.BatchSize <= 0 {
		o.BatchSize = s.cfg.Ingest.BatchSize
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 64
	}
	s.forget(collection)
	ci, err := s.Collection(ctx, collection)
	if err != nil {
		return res, err
	}
	info, err := s.store.Info(ctx, collection)
	if err != nil {
		return res, err
	}
	vec, err := s.signalVectorizer(signal)
	if err != nil {
		return res, err
	}
	res.Vectorizer = vec
	adding := info.Spec.Metadata[MetaAdding]
	has := map[string]bool{config.SignalSparse: info.Spec.Sparse != nil, config.SignalDense: info.Spec.Dense != nil, config.SignalBM25: info.Spec.BM25 != nil}
	switch {
	case adding != "" && adding != signal:
		return res, fmt.Errorf("collection %q is gaining its %s signal (an add-signal run that was stopped): finish that first (spladeq collection add-signal %s)", collection, adding, adding)
	case adding == "" && has[signal]:
		res.Complete, res.Vectorizer = true, signalOf(ci, signal)
		res.Total = ci.Points
		res.Filled = ci.Points
		return res, nil
	case adding == signal:
		if was := info.Spec.Metadata[metaKey(signal)]; was != "" && was != vec {
			return res, fmt.Errorf("collection %q is gaining its %s signal with vectorizer %q (an add-signal run that was stopped); this configuration names %q: run it again with %q", collection, signal, was, vec, was)
		}
	}
	wo, err := s.WriteOptions(ci)
	if err != nil {
		return res, err
	}
	spec, err := s.vectorSpec(signal, vec, wo)
	if err != nil {
		return res, err
	}
	if !has[signal] {
		if err := s.store.CanAddVector(ctx); err != nil {
			if errors.Is(err, qdrant.ErrUnsupported) {
				return res, fmt.Errorf("%w: %v; collection %q is unchanged. Upgrade Qdrant to 1.18 or later and run this again, or re-ingest into a new collection made with the %s signal",
					ErrAddVectorUnsupported, err, collection, signal)
			}
			return res, err
		}
		// The mark first: a run stopped between the two finds the mark
		// and creates the vector; the reverse order would leave a vector
		// that looks complete.
		if err := s.store.SetMetadata(ctx, collection, map[string]string{MetaAdding: signal, metaKey(signal): vec}); err != nil {
			return res, err
		}
		if err := s.store.AddVector(ctx, collection, spec); err != nil {
			if errors.Is(err, qdrant.ErrUnsupported) {
				s.store.SetMetadata(ctx, collection, nil, MetaAdding)
				err = fmt.Errorf("%w: %v; collection %q is unchanged", ErrAddVectorUnsupported, err, collection)
			}
			return res, err
		}
		res.Created = true
	}
	s.forget(collection)
	if ci, err = s.Collection(ctx, collection); err != nil {
		return res, err
	}
	if wo, err = s.WriteOptions(ci); err != nil {
		return res, err
	}
	if err := s.fill(ctx, ci, signal, wo, o, &res); err != nil {
		return res, err
	}
	if err := s.store.SetMetadata(ctx, collection, nil, MetaAdding); err != nil {
		return res, err
	}
	s.forget(collection)
	return res, nil
}

// fill gives every point of the collection that lacks the signal's vector
// one, from its stored text.
func (s *Service) fill(ctx context.Context, ci CollectionInfo, signal string, wo qdrant.WriteOptions, o AddSignalOptions, res *AddSignalResult) error {
	name := wo.VectorName(qdrant.Signal(signal))
	info, err := s.store.Info(ctx, ci.Name)
	if err != nil {
		return err
	}
	filled, err := s.store.CountHaving(ctx, ci.Name, name)
	if err != nil {
		return err
	}
	res.Total, res.Filled = info.Points, filled
	progress := func() {
		if o.Progress != nil {
			o.Progress(AddSignalProgress{Collection: ci.Name, Signal: signal, Filled: res.Filled, Total: res.Total, Written: res.Written})
		}
	}
	progress()
	for pass := 0; pass < addPasses; pass++ {
		res.NoText, res.Empty = 0, 0
		written, offset := res.Written, ""
		for {
			page, next, err := s.store.Unfilled(ctx, ci.Name, name, offset, o.BatchSize)
			if err != nil {
				return err
			}
			if err := s.fillBatch(ctx, ci, signal, wo, page, res); err != nil {
				return err
			}
			progress()
			if offset = next; offset == "" {
				break
			}
		}
		// A pass that wrote nothing saw only points that cannot get the
		// vector: every other point has it.
		if res.Written == written {
			return nil
		}
	}
	return fmt.Errorf("collection %q: points without the %s vector kept arriving over %d passes (is a process writing with a configuration that lacks the signal?); run add-signal again when it has stopped", ci.Name, signal, addPasses)
}

// fillBatch vectorizes one page of points lacking the vector and writes
// the vectors; a point deleted meanwhile is skipped.
func (s *Service) fillBatch(ctx context.Context, ci CollectionInfo, signal string, wo qdrant.WriteOptions, page []qdrant.Unfilled, res *AddSignalResult) error {
	var todo []qdrant.Unfilled
	for _, u := range page {
		if strings.TrimSpace(u.Text) == "" {
			res.NoText++
			continue
		}
		todo = append(todo, u)
	}
	if len(todo) == 0 {
		return nil
	}
	texts := make([]string, len(todo))
	for i, u := range todo {
		texts[i] = u.Text
	}
	ups := make([]qdrant.VectorUpdate, 0, len(todo))
	switch signal {
	case config.SignalBM25:
		for _, u := range todo {
			ups = append(ups, qdrant.VectorUpdate{ID: u.ID, Text: u.Text})
		}
	case config.SignalSparse:
		vecs, err := s.vecs[ci.Sparse].(Sparse).EncodeDocuments(ctx, texts)
		if err != nil {
			return fmt.Errorf("encode documents with %s: %w", ci.Sparse, err)
		}
		for i, u := range todo {
			if vecs[i].Len() == 0 {
				res.Empty++ // as ingestion, which stores no empty sparse vector
				continue
			}
			ups = append(ups, qdrant.VectorUpdate{ID: u.ID, Sparse: vecs[i]})
		}
	case config.SignalDense:
		vecs, err := s.vecs[ci.Dense].(Dense).EmbedDocuments(ctx, texts)
		if err != nil {
			return fmt.Errorf("embed documents with %s: %w", ci.Dense, err)
		}
		for i, u := range todo {
			ups = append(ups, qdrant.VectorUpdate{ID: u.ID, Dense: vecs[i]})
		}
	}
	if len(ups) == 0 {
		return nil
	}
	err := s.store.UpdateVectors(ctx, ci.Name, qdrant.Signal(signal), ups, wo)
	if errors.Is(err, qdrant.ErrNotFound) {
		// A point was deleted after the page was read (a document
		// re-ingested with fewer chunks): write the others one by one.
		err = nil
		var kept []qdrant.VectorUpdate
		for _, u := range ups {
			e := s.store.UpdateVectors(ctx, ci.Name, qdrant.Signal(signal), []qdrant.VectorUpdate{u}, wo)
			if errors.Is(e, qdrant.ErrNotFound) {
				continue
			}
			if e != nil {
				return e
			}
			kept = append(kept, u)
		}
		ups = kept
	}
	if err != nil {
		return err
	}
	res.Written += uint64(len(ups))
	res.Filled += uint64(len(ups))
	return nil
}

// signalVectorizer is the vectorizer the configuration names for a
// signal, checked to be configured and of the signal's kind.
func (s *Service) signalVectorizer(signal string) (string, error) {
	var key, name string
	var ok bool
	switch signal {
	case config.SignalBM25:
		key, name = "collection.bm25", s.cfg.Collection.BM25
		if v, isStore := s.vecs[name].(StoreSide); isStore && v.Module() == config.ModuleBM25 {
			ok = true
		} else if name == config.DefaultBM25 {
			ok = true // Qdrant's BM25 with its defaults
		}
	case config.SignalSparse:
		key, name = "collection.sparse", s.cfg.Collection.Sparse
		_, ok = s.vecs[name].(Sparse)
	case config.SignalDense:
		key, name = "collection.dense", s.cfg.Collection.Dense
		var d Dense
		if d, ok = s.vecs[name].(Dense); ok {
			if _, pre := d.(*precomputed); pre {
				return "", fmt.Errorf("%s: vectorizer %q is precomputed: its vectors come with the documents, so spladeq cannot make them from stored text; re-ingest with the vectors", key, name)
			}
		}
	}
	if name == "" || name == None {
		return "", fmt.Errorf("%s: the configuration names no %s vectorizer (it is %q); name the one the signal should use", key, signal, name)
	}
	if !ok {
		return "", fmt.Errorf("%s: no %s vectorizer named %q is configured", key, signal, name)
	}
	return name, nil
}

// vectorSpec is the vector a signal adds: named as spladeq names it, a
// dense one sized by its vectorizer, a sparse one with collection.idf.
func (s *Service) vectorSpec(signal, vec string, wo qdrant.WriteOptions) (qdrant.CollectionSpec, error) {
	col := s.cfg.Collection
	name := wo.VectorName(qdrant.Signal(signal))
	switch signal {
	case config.SignalSparse:
		if col.SparseOnDisk {
			return qdrant.CollectionSpec{}, fmt.Errorf("collection.sparse_on_disk is true: a vector added to a collection gets its index in memory (Qdrant's CreateVectorName takes no storage settings), and ingestion would then refuse the collection; set it false for this collection, or re-ingest into a new one")
		}
		return qdrant.CollectionSpec{Sparse: &qdrant.SparseSpec{Name: name, IDF: col.IDF}}, nil
	case config.SignalDense:
		d := s.vecs[vec].(Dense)
		return qdrant.CollectionSpec{Dense: &qdrant.DenseSpec{Name: name, Size: d.Dimension(), Distance: col.Distance}}, nil
	}
	return qdrant.CollectionSpec{BM25: &qdrant.BM25Spec{Name: name}}, nil
}

func metaKey(signal string) string {
	switch signal {
	case config.SignalSparse:
		return MetaSparse
	case config.SignalDense:
		return MetaDense
	}
	return MetaBM25
}

func signalOf(ci CollectionInfo, signal string) string {
	switch signal {
	case config.SignalSparse:
		return ci.Sparse
	case config.SignalDense:
		return ci.Dense
	}
	return ci.BM25
}
