package plugin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spladeq/spladeq/api"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
)

// CollectionConfig is how a collection is created.
type CollectionConfig = api.CollectionConfig

// CollectionInfo describes a collection.
type CollectionInfo = api.CollectionInfo

// EnsureCollection creates a collection, or checks that an existing one
// matches.
func (s *Service) EnsureCollection(ctx context.Context, name string, cc CollectionConfig) (CollectionInfo, error) {
	var ps []Problem
	if name == "" || len(name) > 255 || strings.ContainsAny(name, "/\\\x00") {
		ps = append(ps, Problem{Field: "name", Message: "must be 1..255 characters without / \\ or NUL"})
	}
	if cc.Sparse == "" {
		cc.Sparse = orNone(s.cfg.Collection.Sparse)
	}
	if cc.Dense == "" {
		cc.Dense = orNone(s.cfg.Collection.Dense)
	}
	bm25Default := cc.BM25 == ""
	if bm25Default {
		cc.BM25 = orNone(s.cfg.Collection.BM25)
	}
	if cc.Distance == "" {
		cc.Distance = s.cfg.Collection.Distance
	}
	idf := s.cfg.Collection.IDF
	if cc.IDF != nil {
		idf = *cc.IDF
	}
	col := s.cfg.Collection
	spec := qdrant.CollectionSpec{Name: name, Metadata: map[string]string{MetaSparse: cc.Sparse, MetaDense: cc.Dense, MetaBM25: cc.BM25},
		ShardNumber: uint32(col.ShardNumber), ReplicationFactor: uint32(col.ReplicationFactor),
		WriteConsistencyFactor: uint32(col.WriteConsistencyFactor), OnDiskPayload: col.OnDiskPayload}
	if cc.Sparse != None {
		if _, ok := s.vecs[cc.Sparse].(Sparse); !ok {
			ps = append(ps, Problem{Field: "sparse", Message: fmt.Sprintf("no sparse vectorizer named %q (have %s)", cc.Sparse, s.names(isSparse))})
		}
		spec.Sparse = &qdrant.SparseSpec{IDF: idf, OnDisk: col.SparseOnDisk}
	}
	if cc.Dense != None {
		d, ok := s.vecs[cc.Dense].(Dense)
		switch {
		case !ok:
			ps = append(ps, Problem{Field: "dense", Message: fmt.Sprintf("no dense vectorizer named %q (have %s)", cc.Dense, s.names(isDense))})
		case cc.DenseSize != 0 && cc.DenseSize != d.Dimension():
			ps = append(ps, Problem{Field: "dense_size", Message: fmt.Sprintf("vectorizer %q gives %d dimensions, not %d", cc.Dense, d.Dimension(), cc.DenseSize)})
		default:
			spec.Dense = &qdrant.DenseSpec{Size: d.Dimension(), Distance: cc.Distance}
		}
	}
	if cc.BM25 != None {
		if v, ok := s.vecs[cc.BM25].(StoreSide); !ok || v.Module() != config.ModuleBM25 {
			ps = append(ps, Problem{Field: "bm25", Message: fmt.Sprintf("no bm25 vectorizer named %q (have %s)", cc.BM25, s.names(isBM25))})
		}
		spec.BM25 = &qdrant.BM25Spec{OnDisk: col.SparseOnDisk}
	}
	if cc.Sparse == None && cc.Dense == None && cc.BM25 == None {
		ps = append(ps, Problem{Field: "sparse", Message: "a collection needs a sparse, a dense or a bm25 vectorizer"})
	}
	if err := problems(ps...); err != nil {
		return CollectionInfo{}, err
	}
	// A collection made before BM25 keeps working with the signals it
	// has, unless this call asked for BM25 by name.
	if spec.BM25 != nil && bm25Default {
		if info, err := s.store.Info(ctx, name); err == nil && info.Spec.BM25 == nil {
			spec.BM25 = nil
			s.log.Info("collection has no bm25 vector: searches fuse the signals it has; `spladeq collection add-signal bm25` adds BM25 in place", "collection", name)
		}
	}
	start := time.Now()
	err := s.store.EnsureCollection(ctx, spec)
	s.metrics.observeStore("ensure_collection", start)
	if errors.Is(err, qdrant.ErrSchemaMismatch) {
		err = s.offerAddSignal(ctx, spec, err)
	}
	if err != nil {
		return CollectionInfo{}, err
	}
	s.forget(name)
	return s.Collection(ctx, name)
}

// offerAddSignal adds to a schema mismatch the way to add in place each
// signal the configuration names and the existing collection lacks.
func (s *Service) offerAddSignal(ctx context.Context, spec qdrant.CollectionSpec, mismatch error) error {
	info, err := s.store.Info(ctx, spec.Name)
	if err != nil {
		return mismatch
	}
	var missing []string
	for _, m := range []struct {
		signal      string
		want, there bool
	}{{config.SignalBM25, spec.BM25 != nil, info.Spec.BM25 != nil}, {config.SignalSparse, spec.Sparse != nil, info.Spec.Sparse != nil},
		{config.SignalDense, spec.Dense != nil, info.Spec.Dense != nil}} {
		if m.want && !m.there {
			missing = append(missing, m.signal)
		}
	}
	if len(missing) == 0 {
		return mismatch
	}
	var cmds []string
	for _, sig := range missing {
		cmds = append(cmds, "spladeq collection add-signal "+sig+" --config FILE")
	}
	return fmt.Errorf("%w; collection %q lacks the %s signal the configuration names: add it in place without re-encoding the others (Qdrant 1.18 or later, or the embedded store): %s",
		mismatch, spec.Name, strings.Join(missing, " and "), strings.Join(cmds, "; "))
}

func orNone(name string) string {
	if name == "" {
		return None
	}
	return name
}

func isSparse(v Vectorizer) bool { _, ok := v.(Sparse); return ok }
func isDense(v Vectorizer) bool  { _, ok := v.(Dense); return ok }
func isBM25(v Vectorizer) bool   { return v.Module() == config.ModuleBM25 }

// names lists the vectorizers of a kind, sorted.
func (s *Service) names(kind func(Vectorizer) bool) string {
	var out []string
	for n, v := range s.vecs {
		if kind(v) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// Collection describes an existing collection; the vectorizers come from
// its metadata, or from the configuration for collections made elsewhere.
func (s *Service) Collection(ctx context.Context, name string) (CollectionInfo, error) {
	start := time.Now()
	info, err := s.store.Info(ctx, name)
	s.metrics.observeStore("collection_info", start)
	if err != nil {
		return CollectionInfo{}, err
	}
	ci := CollectionInfo{Name: name, Points: info.Points, Sparse: None, Dense: None, BM25: None, Adding: info.Spec.Metadata[MetaAdding]}
	if info.Spec.BM25 != nil {
		ci.BM25 = orNone(s.cfg.Collection.BM25)
		if m := info.Spec.Metadata[MetaBM25]; m != "" {
			ci.BM25 = m
		}
		// A collection made elsewhere with a BM25 vector, read by a
		// configuration without bm25: searched with Qdrant's defaults.
		if ci.BM25 == None {
			ci.BM25 = config.DefaultBM25
		}
	}
	if sp := info.Spec.Sparse; sp != nil {
		ci.IDF = sp.IDF
		ci.Sparse = orNone(s.cfg.Collection.Sparse)
		if m := info.Spec.Metadata[MetaSparse]; m != "" {
			ci.Sparse = m
		}
	}
	if d := info.Spec.Dense; d != nil {
		ci.DenseSize, ci.Distance = d.Size, d.Distance
		ci.Dense = orNone(s.cfg.Collection.Dense)
		if m := info.Spec.Metadata[MetaDense]; m != "" {
			ci.Dense = m
		}
	}
	s.mu.Lock()
	s.collections[name] = cachedCollection{ci, now()}
	s.mu.Unlock()
	return ci, nil
}

// cached returns a collection's info, asking Qdrant on a miss.
func (s *Service) cached(ctx context.Context, name string) (CollectionInfo, error) {
	s.mu.Lock()
	c, ok := s.collections[name]
	s.mu.Unlock()
	if ok && (!s.incomplete(c.ci) || now().Sub(c.at) < recheckIncomplete) {
		return c.ci, nil
	}
	return s.Collection(ctx, name)
}

// cachedCollection is a Collection() answer and when it was read.
type cachedCollection struct {
	ci CollectionInfo
	at time.Time
}

// recheckIncomplete is how long a collection that lacks a signal of
// search.signals, or is gaining one, is trusted before it is read again:
// `spladeq collection add-signal`, run by another process, changes it
// while this one serves.
const recheckIncomplete = 5 * time.Second

var now = time.Now

// incomplete reports whether a collection lacks a signal search.signals
// names, or is gaining one.
func (s *Service) incomplete(ci CollectionInfo) bool {
	if ci.Adding != "" {
		return true
	}
	for _, sig := range s.cfg.Search.Signals {
		if !collectionSignals(ci).has(sig) {
			return true
		}
	}
	return false
}

func (s *Service) forget(name string) {
	s.mu.Lock()
	delete(s.collections, name)
	s.mu.Unlock()
}

// DeleteCollection drops a collection.
func (s *Service) DeleteCollection(ctx context.Context, name string) error {
	defer s.forget(name)
	defer s.metrics.observeStore("delete_collection", time.Now())
	if _, err := s.store.Info(ctx, name); err != nil {
		return err
	}
	return s.store.DeleteCollection(ctx, name)
}
