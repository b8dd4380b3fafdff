package ingest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/connectors/source"
	"github.com/spladeq/spladeq/plugin"
)

// Payload keys a job writes on every point besides doc_id, chunk and text.
// The collection is the one record of what a job stored: there is no side
// database to drift from it.
const (
	// PayloadJob names the job that wrote the point (ingest.job): sync
	// deletes only its own job's points.
	PayloadJob = "spladeq_job"
	// PayloadRun is the pass that last wrote the point's document, or
	// found it unchanged in a unit it read whole (before stamping the
	// unit's token on the documents it holds that pass). A document's
	// chunk 0 holds "" while the document is being rewritten and the
	// pass's id once every chunk is stored and the stale ones removed:
	// chunk 0 is the document's commit mark. Which documents a pass saw
	// (what a sync keeps) is in its seen list, not on the points: a re-run
	// writes nothing on an unchanged document.
	PayloadRun = "spladeq_run"
	// PayloadFingerprint is a SHA-256 of what produced the document's
	// points: its text, payload and precomputed vector, the chunking
	// settings and each vectorizer's identity.
	PayloadFingerprint = "spladeq_fp"
	// PayloadChunks is the document's number of chunks.
	PayloadChunks = "spladeq_chunks"
	// PayloadUnit is the key of the source unit (file, object) the
	// document was read from.
	PayloadUnit = "spladeq_unit"
	// PayloadToken is the unit's change token under the job's settings,
	// stamped once every document of the unit is stored; "" before.
	PayloadToken = "spladeq_token"
)

// reservedPrefix starts every key sync writes; source payload fields may
// not use it.
const reservedPrefix = "spladeq_"

// ErrTooManyDeletes is returned when a sync would delete more than
// ingest.max_delete of the job's points; nothing was deleted.
var ErrTooManyDeletes = errors.New("sync would delete too much")

// newRunID is a pass's id: random, never a clock.
func newRunID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// settingsFingerprint is what, besides a document's own fields, makes its
// vectors: the chunking settings and the identities of the collection's
// vectorizers (model files' hash, every setting that changes vectors) and
// of the store's BM25 model.
func settingsFingerprint(svc *plugin.Service, ci plugin.CollectionInfo, ingest config.Ingest) (string, error) {
	parts := map[string]any{"chunk_tokens": ingest.ChunkTokens, "chunk_overlap": ingest.ChunkOverlap}
	for role, name := range map[string]string{"sparse": ci.Sparse, "dense": ci.Dense} {
		if name == "" || name == plugin.None {
			continue
		}
		id, err := svc.VectorizerIdentity(name)
		if err != nil {
			return "", err
		}
		parts[role] = id
	}
	wo, err := svc.WriteOptions(ci)
	if err != nil {
		return "", err
	}
	if wo.BM25 != nil {
		parts["bm25"] = wo.BM25
	}
	data, err := json.Marshal(parts)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16]), nil
}

// docFingerprint hashes a document's text, payload and precomputed vector
// with the settings fingerprint.
func docFingerprint(settings string, d plugin.DocumentInput) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%s\x00", settings, len(d.Text), d.Text)
	if len(d.Payload) > 0 {
		data, _ := json.Marshal(d.Payload) // map keys sorted
		h.Write(data)
	}
	h.Write([]byte{0})
	for _, x := range d.Vector {
		fmt.Fprintf(h, "%x,", math.Float32bits(x))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// unitStamp is a unit's token as stored: tied to the settings, so changed
// settings make every unit look changed.
func unitStamp(settings, token string) string {
	if token == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(settings + "\x00" + token))
	return hex.EncodeToString(sum[:12])
}

// storedDoc is what chunk 0 of a stored document says about it.
type storedDoc struct {
	job, run, fp, unit string
}

func str(p map[string]any, key string) string {
	s, _ := p[key].(string)
	return s
}

// lookup reads chunk 0 of each document in one request.
func (j *Job) lookup(ctx context.Context, ids []string) (map[string]storedDoc, error) {
	pids := make([]string, len(ids))
	for i, id := range ids {
		pids[i] = qdrant.PointID(id, 0)
	}
	pts, err := j.Service.Store().Get(ctx, j.Collection, pids,
		[]string{qdrant.PayloadDocID, PayloadJob, PayloadRun, PayloadFingerprint, PayloadUnit})
	if err != nil {
		return nil, err
	}
	out := make(map[string]storedDoc, len(pts))
	for _, p := range pts {
		out[str(p.Payload, qdrant.PayloadDocID)] = storedDoc{job: str(p.Payload, PayloadJob), run: str(p.Payload, PayloadRun),
			fp: str(p.Payload, PayloadFingerprint), unit: str(p.Payload, PayloadUnit)}
	}
	return out, nil
}

// jobIndex is what the collection held of the job, in scope, when a
// sync: full pass began, from one scroll: it answers the pass's
// comparisons (instead of a lookup per group of records) and lists the
// points its deletions choose from (instead of a second scroll at the end).
// It is read while the source is (the first comparison waits for it), and
// costs memory in proportion to the job (with the seen list loaded for
// the deletions: 34 MB more at peak for 50,000 one-chunk documents).
type jobIndex struct {
	ready chan struct{} // closed once docs or err is set
	docs  map[string]*indexedDoc
	err   error
}

type indexedDoc struct {
	chunk0 bool // chunk 0 is stored: fp, unit and committed are its
	storedDoc
	points []string
}

// startIndex starts reading the job index; ctx ends it.
func (p *pass) startIndex(ctx context.Context) *jobIndex {
	ix := &jobIndex{ready: make(chan struct{})}
	go func() {
		defer close(ix.ready)
		ix.docs, ix.err = p.scrollIndex(ctx)
	}()
	return ix
}

// wait returns once the index is read.
func (ix *jobIndex) wait(ctx context.Context) error {
	select {
	case <-ix.ready:
		return ix.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// scrollIndex scrolls the job's points in scope.
func (p *pass) scrollIndex(ctx context.Context) (map[string]*indexedDoc, error) {
	docs := map[string]*indexedDoc{}
	units := map[string]string{} // one copy of each unit key
	f := &qdrant.Filter{Must: []qdrant.Condition{{Key: PayloadJob, Match: p.job}}}
	keys := []string{qdrant.PayloadDocID, qdrant.PayloadChunk, PayloadRun, PayloadFingerprint, PayloadUnit}
	err := p.j.Service.Store().ScrollPayload(ctx, p.j.Collection, f, keys, func(page []qdrant.StoredPoint) error {
		for _, pt := range page {
			doc, unit := str(pt.Payload, qdrant.PayloadDocID), str(pt.Payload, PayloadUnit)
			if !p.inScope(doc, unit) {
				continue
			}
			if u, ok := units[unit]; ok {
				unit = u
			} else {
				units[unit] = unit
			}
			d := docs[doc]
			if d == nil {
				d = &indexedDoc{}
				docs[doc] = d
			}
			d.points = append(d.points, pt.ID)
			if c, _ := pt.Payload[qdrant.PayloadChunk].(int64); c == 0 {
				d.chunk0 = true
				d.storedDoc = storedDoc{job: p.job, run: str(pt.Payload, PayloadRun), fp: str(pt.Payload, PayloadFingerprint), unit: unit}
			}
		}
		return nil
	})
	if errors.Is(err, qdrant.ErrNotFound) && p.j.DryRun {
		return docs, nil // no collection yet
	}
	if err != nil {
		return nil, fmt.Errorf("read the job's points: %w", err)
	}
	return docs, nil
}

// storedDocs is what the collection says of the documents ids: from the
// job index, but for documents this pass wrote (asked of the collection).
func (p *pass) storedDocs(ctx context.Context, ids []string) (map[string]storedDoc, error) {
	if p.index == nil {
		return p.j.lookup(ctx, ids)
	}
	if err := p.index.wait(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]storedDoc, len(ids))
	var ask []string
	for _, id := range ids {
		if _, ok := p.written[id]; ok {
			ask = append(ask, id)
		} else if d := p.index.docs[id]; d != nil && d.chunk0 {
			out[id] = d.storedDoc
		}
	}
	if len(ask) > 0 {
		got, err := p.j.lookup(ctx, ask)
		if err != nil {
			return nil, err
		}
		for id, d := range got {
			out[id] = d
		}
	}
	return out, nil
}

// checkUnits is the source.UnitCheck of a pass: a unit is unchanged when
// the job has documents from it and every one of them is committed with
// the unit's token stamped under the current settings. The documents of
// each unchanged unit are kept for its stub record.
func (p *pass) checkUnits(ctx context.Context, units []source.Unit) ([]bool, error) {
	keys := make([]string, len(units))
	for i, u := range units {
		keys[i] = u.Key
	}
	type unitState struct {
		docs []string
		ok   bool
	}
	state := map[string]*unitState{}
	want := map[string]string{}
	for _, u := range units {
		want[u.Key] = unitStamp(p.settings, u.Token)
	}
	f := &qdrant.Filter{Must: []qdrant.Condition{{Key: PayloadJob, Match: p.job}, {Key: PayloadUnit, Match: keys}, {Key: qdrant.PayloadChunk, Match: int64(0)}}}
	err := p.j.Service.Store().ScrollPayload(ctx, p.j.Collection, f, []string{qdrant.PayloadDocID, PayloadUnit, PayloadToken, PayloadRun},
		func(page []qdrant.StoredPoint) error {
			for _, pt := range page {
				u := str(pt.Payload, PayloadUnit)
				st := state[u]
				if st == nil {
					st = &unitState{ok: true}
					state[u] = st
				}
				st.docs = append(st.docs, str(pt.Payload, qdrant.PayloadDocID))
				if w := want[u]; w == "" || str(pt.Payload, PayloadToken) != w || str(pt.Payload, PayloadRun) == "" {
					st.ok = false
				}
			}
			return nil
		})
	if errors.Is(err, qdrant.ErrNotFound) && p.j.DryRun {
		return make([]bool, len(units)), nil // no collection yet
	}
	if err != nil {
		return nil, fmt.Errorf("check units: %w", err)
	}
	out := make([]bool, len(units))
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, u := range units {
		st := state[u.Key]
		if st == nil || !st.ok || len(st.docs) == 0 {
			continue
		}
		// A document of the unit read earlier in this pass (from another
		// unit) may be rewritten yet: read the unit, so the later version
		// wins.
		for _, d := range st.docs {
			if p.inflight[d] > 0 {
				st.ok = false
			}
		}
		if st.ok {
			out[i] = true
			p.unitDocs[u.Key] = st.docs
		}
	}
	return out, nil
}

// inScope reports whether a point of the job is this pass's to delete:
// within the source's scope for scoped sync, and this shard's.
func (p *pass) inScope(docID, unit string) bool {
	if p.j.Config.Sync == config.SyncScoped && !strings.HasPrefix(unit, p.scope) {
		return false
	}
	return p.j.Shard.Of <= 1 || p.j.Shard.owns(docID)
}

// staleSet lists the points a sync would delete: the job's points in
// scope whose document is not in seen (the documents this pass read), and
// how many points the job has in scope.
func (p *pass) staleSet(ctx context.Context, seen map[string]bool) (ids []string, docs map[string]bool, total int64, err error) {
	docs = map[string]bool{}
	if p.index != nil {
		if err := p.index.wait(ctx); err != nil {
			return nil, nil, 0, err
		}
		// The points of the documents this pass wrote are what it wrote;
		// of the others, what the index found.
		for doc, d := range p.index.docs {
			if _, ok := p.written[doc]; !ok {
				total += int64(len(d.points))
			}
			if !seen[doc] {
				ids = append(ids, d.points...)
				docs[doc] = true
			}
		}
		for _, n := range p.written {
			total += int64(n)
		}
		return ids, docs, total, nil
	}
	f := &qdrant.Filter{Must: []qdrant.Condition{{Key: PayloadJob, Match: p.job}}}
	err = p.j.Service.Store().ScrollPayload(ctx, p.j.Collection, f, []string{qdrant.PayloadDocID, PayloadUnit}, func(page []qdrant.StoredPoint) error {
		for _, pt := range page {
			doc := str(pt.Payload, qdrant.PayloadDocID)
			if !p.inScope(doc, str(pt.Payload, PayloadUnit)) {
				continue
			}
			total++
			if !seen[doc] {
				ids = append(ids, pt.ID)
				docs[doc] = true
			}
		}
		return nil
	})
	return ids, docs, total, err
}

// checkMaxDelete refuses deleting n of total points over ingest.max_delete.
func (p *pass) checkMaxDelete(n int, docs int, total int64) error {
	if n == 0 || float64(n) <= p.j.Config.MaxDelete*float64(total) {
		return nil
	}
	return fmt.Errorf("%w: %d of the %d points of job %q (%d documents, %.0f%%) are no longer in the source, over ingest.max_delete=%v; nothing was deleted. If the source is complete (not a missing mount or a wrong path or prefix), run again with --max-delete 1 (or set ingest.max_delete) to delete them",
		ErrTooManyDeletes, n, total, p.job, docs, 100*float64(n)/float64(total), p.j.Config.MaxDelete)
}

// deleteStale removes the points of the job, in scope, that this pass did
// not see: after the whole source was read. It can run again after any
// interruption: the seen list is kept until the pass is done.
func (p *pass) deleteStale(ctx context.Context) (docs int64, err error) {
	seen, err := p.seenList.load()
	if err != nil {
		return 0, err
	}
	ids, docSet, total, err := p.staleSet(ctx, seen)
	if err != nil {
		return 0, fmt.Errorf("list stale points: %w", err)
	}
	if err := p.checkMaxDelete(len(ids), len(docSet), total); err != nil {
		return 0, err
	}
	sort.Strings(ids)
	for start := 0; start < len(ids); start += deleteBatch {
		if err := p.j.Service.Store().DeletePoints(ctx, p.j.Collection, ids[start:min(start+deleteBatch, len(ids))]); err != nil {
			return 0, err
		}
		if hook := afterDelete; hook != nil {
			if err := hook(); err != nil {
				return 0, err
			}
		}
	}
	return int64(len(docSet)), nil
}

// write stores a batch: the documents that changed, by a protocol that
// leaves chunk 0 marked committed only when the document's chunks are all
// stored and its stale ones removed; then, in one request, the commit
// marks, the marks of documents seen unchanged and the tokens of units
// read whole.
func (p *pass) write(ctx context.Context, b *batch) error {
	store := p.j.Service.Store()
	if len(b.present) > 0 {
		// A document rewritten from here on is uncommitted until step 4,
		// whatever its old chunk 0 said.
		err := store.SetPayloads(ctx, p.j.Collection, []qdrant.PayloadUpdate{{
			Filter:  &qdrant.Filter{Must: []qdrant.Condition{{Key: qdrant.PayloadDocID, Match: b.present}, {Key: qdrant.PayloadChunk, Match: int64(0)}}},
			Payload: map[string]any{PayloadRun: ""}}})
		if err != nil {
			return err
		}
	}
	var updates []qdrant.PayloadUpdate
	if len(b.chunks) > 0 {
		wo, err := p.j.Service.WriteOptions(p.ci)
		if err != nil {
			return err
		}
		if err := store.Upsert(ctx, p.j.Collection, b.chunks, wo); err != nil {
			return err
		}
		if hook := afterUpsert; hook != nil {
			if err := hook(); err != nil {
				return err
			}
		}
		if err := store.DeleteStaleChunks(ctx, p.j.Collection, b.counts); err != nil {
			return err
		}
		commit := make([]string, 0, len(b.counts))
		for id := range b.counts {
			commit = append(commit, qdrant.PointID(id, 0))
		}
		sort.Strings(commit)
		updates = append(updates, qdrant.PayloadUpdate{IDs: commit, Payload: map[string]any{PayloadRun: p.run}})
	}
	if len(b.touch) > 0 {
		updates = append(updates, qdrant.PayloadUpdate{
			Filter:  &qdrant.Filter{Must: []qdrant.Condition{{Key: qdrant.PayloadDocID, Match: b.touch}, {Key: PayloadJob, Match: p.job}}},
			Payload: map[string]any{PayloadRun: p.run}})
	}
	for _, m := range b.moved {
		updates = append(updates, qdrant.PayloadUpdate{
			Filter:  &qdrant.Filter{Must: []qdrant.Condition{{Key: qdrant.PayloadDocID, Match: m.doc}, {Key: PayloadJob, Match: p.job}}},
			Payload: map[string]any{PayloadUnit: m.unit}})
	}
	for _, s := range b.stamps {
		updates = append(updates, qdrant.PayloadUpdate{
			Filter:  &qdrant.Filter{Must: []qdrant.Condition{{Key: PayloadJob, Match: p.job}, {Key: PayloadUnit, Match: s.unit}, {Key: PayloadRun, Match: p.run}}},
			Payload: map[string]any{PayloadToken: s.stamp}})
	}
	return store.SetPayloads(ctx, p.j.Collection, updates)
}

// deleteBatch is the points per delete request.
var deleteBatch = 1024

// Test hooks: afterUpsert runs after a batch's chunks are stored (before
// their commit), afterDelete after each delete request; an error stops the
// pass there, as a crash would.
var (
	afterUpsert func() error
	afterDelete func() error
)
