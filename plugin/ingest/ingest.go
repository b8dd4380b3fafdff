// Package ingest runs configuration-driven ingestion jobs that keep a
// collection in sync with a source: read, compare with the collection,
// chunk and vectorize what changed, write — overlapping stages joined by
// bounded queues.
//
// Each Run is a pass with a random id. Every point carries its job's name,
// the pass that last wrote or saw it, and a fingerprint of what produced
// it (text, payload, chunking, each vectorizer's identity). A pass asks
// the collection, a batch of documents per request, for their fingerprints
// and encodes only the documents that are new or changed; the others are
// marked with the pass id. A source of units (files, objects) lets whole
// unchanged units be skipped without reading them. With ingest.sync, once
// the whole source was read, the job's points the pass did not mark are
// deleted. The collection is the one record: there is no side database.
//
// Exactly-once outcome: batches hold whole documents; a document's chunk 0
// is committed (marked with the pass id) only after all its chunks are
// stored and its stale ones removed, so a stored fingerprint is never
// trusted for a half-written document; a batch's checkpoint (the last
// source record it covers, the dead letter's length, the counters) is
// written atomically after its writes are acknowledged. A crash at any
// moment is followed by a run that resumes the pass (the same source) or
// starts a new one (a changed source): either converges to the collection
// a clean pass makes. The dead letter lists each bad record of a pass once.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/connectors/source"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/splade"
)

// ErrTooManyErrors is returned when bad records exceed ingest.max_errors.
var ErrTooManyErrors = errors.New("too many bad records")

// Job is one ingestion job; each Run is one pass over its source.
type Job struct {
	Service    *plugin.Service
	Config     config.Ingest
	Collection string
	// Restart ignores an unfinished pass's checkpoint: the pass starts over
	// from the first record.
	Restart bool
	// DryRun reads the source and compares it with the collection, prints
	// what would be added, updated and deleted to Plan, and writes nothing:
	// no point, checkpoint or dead letter.
	DryRun bool
	// Plan receives a dry run's lines: "+ id" (added), "~ id" (updated),
	// "- id" (deleted), "! place: reason" (bad record). Default: discarded.
	Plan io.Writer
	// Progress receives the progress bar (Terminal) or periodic lines.
	Progress io.Writer
	Terminal bool
	Log      *slog.Logger
	// Shard is this worker's share of the source when Shard.Of > 1: it
	// writes the documents whose id hashes to Shard.Index (and dead-letters
	// the bad records whose place does), with its own checkpoint and dead
	// letter, and syncs (deletes) only its share. Workers 0..Of-1 over one
	// source write each document exactly once. The zero value is the whole
	// source.
	Shard Shard
	// Open opens the source; default: OpenSource(ctx, Config).
	Open func() (source.Source, error)
	// now is the clock, for tests.
	now func() time.Time
}

// Summary is what a pass did. Documents are counted once per record that
// holds one (a document repeated in the source counts twice).
type Summary struct {
	Records    int64         `json:"records"`         // read this run
	NotRead    int64         `json:"not_read"`        // units (files, objects) skipped unread as unchanged, this run
	Skipped    int64         `json:"skipped"`         // before the checkpoint of a resumed pass
	Added      int64         `json:"added"`           // documents new to the job, this pass
	Updated    int64         `json:"updated"`         // documents whose fingerprint changed
	Unchanged  int64         `json:"unchanged"`       // documents not encoded nor written
	Deleted    int64         `json:"deleted"`         // documents removed by sync
	Documents  int64         `json:"documents"`       // added + updated + unchanged
	Chunks     int64         `json:"chunks"`          // written this pass
	Errors     int64         `json:"errors"`          // bad records, dead-lettered this pass
	Tokens     uint64        `json:"tokens"`          // through the sparse model this run
	Duration   time.Duration `json:"duration"`        // this run
	DeadLetter string        `json:"dead_letter"`     // path
	Checkpoint string        `json:"checkpoint"`      // path
	Job        string        `json:"job"`             // ingest.job, or the source's scope
	Run        string        `json:"run"`             // the pass's id
	Sync       string        `json:"sync"`            // ingest.sync
	Shard      string        `json:"shard,omitempty"` // "i/N" of a sharded run
	Others     int64         `json:"others"`          // records left to other shards, this run
	Resumed    bool          `json:"resumed"`
	Complete   bool          `json:"complete"`
	DryRun     bool          `json:"dry_run,omitempty"`
}

// entry is one record on its way through a pass.
type entry struct {
	seq     int64
	where   string
	unit    string
	token   string
	pos     int64 // the source's progress once the record was read
	dlSize  int64 // the dead letter's size once the record was handled
	errors  int64 // bad records this pass, up to this one
	unitEnd bool  // the last record of its unit
	kind    entryKind
	doc     plugin.DocumentInput
	fp      string
	// keep is a bad record's document id: its stored version is kept.
	keep string
	// docs of an unchanged unit (kind stub), this shard's.
	docs []string
	// busy: an earlier version of the document was still on its way to
	// the collection when this one was read.
	busy bool
	// reason a bad record was dead-lettered (for a dry run's plan).
	reason string
}

// ids are the documents an entry stands for.
func (e *entry) ids() []string {
	switch {
	case e.kind == entryDoc:
		return []string{e.doc.ID}
	case e.kind == entryBad && e.keep != "":
		return []string{e.keep}
	case e.kind == entryStub:
		return e.docs
	}
	return nil
}

type entryKind int

const (
	entryDoc   entryKind = iota // a good record
	entryBad                    // dead-lettered
	entryStub                   // a unit the source skipped as unchanged
	entryOther                  // another shard's
)

// group is consecutive entries, compared with the collection together.
type group struct{ entries []entry }

// batch is what one write stores and the checkpoint reached after it.
type batch struct {
	chunks  []qdrant.Document
	counts  map[string]int // chunks per written document
	present []string       // written documents whose chunk 0 is stored: uncommitted first
	touch   []string       // documents of a unit with a token seen unchanged (or kept): marked with the run
	moved   []moved
	stamps  []stamp
	ids     []string // every document of the batch, for the in-flight set

	added, updated, unchanged int64
	lastSeq, srcPos           int64
	dlSize, errors            int64
	unitBad                   bool // the unit in progress at lastSeq had a bad record
}

type moved struct{ doc, unit string }
type stamp struct{ unit, stamp string }

func newBatch() *batch { return &batch{counts: map[string]int{}} }

func (b *batch) empty() bool { return b.lastSeq == 0 }

// pass is one Run's state.
type pass struct {
	j        *Job
	ci       plugin.CollectionInfo
	job      string // the job's identity
	run      string // the pass's id
	scope    string
	settings string // settingsFingerprint
	cp       *checkpoint
	dl       *deadLetter
	stats    *runStats
	// unitDocs are the documents of units checkUnits found unchanged, until
	// their stub records come (reader goroutine only).
	unitDocs map[string][]string

	// inflight counts, per document id, the entries read but not yet
	// stored: a later version of a document in flight is written after
	// it, never compared with what is stored before it lands, and a unit
	// holding it is never taken as unchanged.
	mu       sync.Mutex
	inflight map[string]int

	seen     map[string]bool // dry run: documents in the source
	seenList *seenList       // ingest.sync: documents in the source, on disk
	// index is, with sync: full, the job's points when the pass began
	// (read while the source is);
	// written, the chunks of each document the pass wrote (checkGroups'
	// goroutine, then the deletions).
	index   *jobIndex
	written map[string]int
}

// Run runs one pass: until the source ends (then, with ingest.sync, the
// deletion of what it no longer holds), ctx ends, or an error.
func (j *Job) Run(ctx context.Context) (Summary, error) {
	if j.now == nil {
		j.now = time.Now
	}
	if j.Log == nil {
		j.Log = slog.Default()
	}
	if j.Progress == nil {
		j.Progress = io.Discard
	}
	if j.Plan == nil {
		j.Plan = io.Discard
	}
	start := j.now()
	cfg := j.Config
	if cfg.Sync == "" {
		cfg.Sync = config.SyncNone
		j.Config.Sync = cfg.Sync
	}
	sum := Summary{DeadLetter: cfg.DeadLetter, Checkpoint: cfg.Checkpoint, Sync: cfg.Sync, DryRun: j.DryRun}
	if sum.DeadLetter == "" {
		sum.DeadLetter = filepath.Join("data", j.Collection+".deadletter.jsonl")
	}
	if sum.Checkpoint == "" {
		sum.Checkpoint = filepath.Join("data", j.Collection+".checkpoint.json")
	}
	if err := j.Shard.validate(); err != nil {
		return sum, err
	}
	base := sum.Checkpoint
	if j.Shard.Of > 1 {
		sum.Shard = j.Shard.String()
		sum.Checkpoint, sum.DeadLetter = j.Shard.path(sum.Checkpoint), j.Shard.path(sum.DeadLetter)
	}
	if !j.Restart && !j.DryRun {
		if err := checkResharding(base, j.Shard); err != nil {
			return sum, err
		}
	}

	var ci plugin.CollectionInfo
	var err error
	if j.DryRun {
		// A dry run creates nothing: a missing collection is an empty one.
		ci, err = j.Service.Collection(ctx, j.Collection)
		if errors.Is(err, qdrant.ErrNotFound) {
			col := j.Service.Config().Collection
			ci, err = plugin.CollectionInfo{Name: j.Collection, Sparse: orNone(col.Sparse), Dense: orNone(col.Dense), BM25: orNone(col.BM25)}, nil
		}
	} else {
		ci, err = j.Service.EnsureCollection(ctx, j.Collection, plugin.CollectionConfig{})
	}
	if err != nil {
		return sum, err
	}
	open := j.Open
	if open == nil {
		open = func() (source.Source, error) { return OpenSource(ctx, cfg) }
	}
	src, err := open()
	if err != nil {
		return sum, fmt.Errorf("ingest.source: %w", err)
	}
	defer src.Close()

	p := &pass{j: j, ci: ci, unitDocs: map[string][]string{}, inflight: map[string]int{}}
	if sc, ok := src.(source.Scoper); ok {
		p.scope = sc.Scope()
	}
	p.job = cfg.Job
	if p.job == "" {
		p.job = p.scope
	}
	if p.job == "" {
		p.job = cfg.Source.Type + ":" + source.AbsKey(cfg.Source.Path)
	}
	if cfg.Sync == config.SyncScoped && p.scope == "" {
		return sum, fmt.Errorf("ingest.sync: scoped needs a source that says what part of the namespace it reads; this %s source does not: use full", cfg.Source.Type)
	}
	sum.Job = p.job
	if p.settings, err = settingsFingerprint(j.Service, ci, cfg); err != nil {
		return sum, err
	}
	version := ""
	if v, ok := src.(source.Versioned); ok {
		version = v.Version()
	}
	store := j.Service.Config().Qdrant.URL

	if j.DryRun {
		p.cp = &checkpoint{}
		p.run = newRunID()
		p.seen = map[string]bool{}
	} else {
		if err := j.Service.Store().IndexKeywords(ctx, j.Collection, PayloadJob, PayloadUnit); err != nil {
			return sum, err
		}
		cp, err := loadCheckpoint(sum.Checkpoint)
		if err != nil && !j.Restart {
			return sum, err
		}
		why := ""
		switch {
		case j.Restart || cp == nil:
		case cp.Done:
		case cp.Version != checkpointVersion || cp.Run == "":
			why = "it was written by an earlier spladeq"
		case cp.Store != store || cp.Collection != j.Collection:
			why = fmt.Sprintf("it is for collection %s at %s", cp.Collection, cp.Store)
		case cp.Job != p.job:
			why = fmt.Sprintf("it is for job %q", cp.Job)
		case cp.Settings != p.settings:
			why = "the models or chunking settings changed"
		case version == "":
			why = "the source cannot say whether it changed"
		case cp.SourceVersion != version:
			why = fmt.Sprintf("the source changed (%s, now %s)", cp.SourceVersion, version)
		default:
			p.cp, sum.Resumed = cp, true
		}
		if why != "" {
			fmt.Fprintf(j.Progress, "checkpoint %s: unfinished pass %s not resumed (%s): reading the source again; unchanged documents are not encoded\n", sum.Checkpoint, cp.Run, why)
		}
		if p.cp == nil {
			p.cp = &checkpoint{Version: checkpointVersion, Run: newRunID(), Job: p.job, Source: cfg.Source.Path, SourceVersion: version,
				Settings: p.settings, Collection: j.Collection, Shard: sum.Shard, Store: store, Phase: phaseRead}
		}
		p.run = p.cp.Run
	}
	sum.Run = p.run
	cp := p.cp

	if !j.DryRun {
		keep := cp.DeadLetterBytes
		if !sum.Resumed {
			keep = 0
			// The new pass's checkpoint goes to disk before the dead letter
			// is cut: a kill between the two must not leave an older
			// pass's checkpoint counting bytes the cut removed.
			if err := cp.save(sum.Checkpoint); err != nil {
				return sum, err
			}
		}
		if p.dl, err = openDeadLetter(sum.DeadLetter, keep); err != nil {
			return sum, err
		}
		defer p.dl.Close()
		if cfg.Sync != config.SyncNone {
			keep := cp.SeenBytes
			if !sum.Resumed {
				keep = 0
			}
			if p.seenList, err = openSeenList(seenPath(sum.Checkpoint), keep); err != nil {
				return sum, err
			}
			defer p.seenList.Close()
		}
	}

	var tokensBefore uint64
	st, hasStats := sparseStats(j.Service, ci)
	if hasStats {
		tokensBefore = st.Stats().Tokens
	}
	stats := &runStats{}
	p.stats = stats
	if hasStats {
		stats.tokens = func() uint64 { return st.Stats().Tokens - tokensBefore }
	}
	stats.added.Store(cp.Added)
	stats.updated.Store(cp.Updated)
	stats.unchanged.Store(cp.Unchanged)
	stats.chunks.Store(cp.Chunks)
	stats.errors.Store(cp.Errors)
	if captureStats != nil {
		captureStats(stats)
	}
	if sk, ok := src.(source.Skipper); ok {
		sk.SkipUnchanged(func(units []source.Unit) ([]bool, error) { return p.checkUnits(ctx, units) })
	}

	finish := func(err error) (Summary, error) {
		if hasStats {
			sum.Tokens = st.Stats().Tokens - tokensBefore
		}
		sum.Records, sum.Skipped, sum.Others, sum.NotRead = stats.records.Load(), stats.skipped.Load(), stats.others.Load(), stats.notRead.Load()
		sum.Added, sum.Updated, sum.Unchanged = cp.Added, cp.Updated, cp.Unchanged
		sum.Deleted, sum.Chunks, sum.Errors = cp.Deleted, cp.Chunks, cp.Errors
		if j.DryRun {
			sum.Added, sum.Updated, sum.Unchanged = stats.added.Load(), stats.updated.Load(), stats.unchanged.Load()
			sum.Deleted, sum.Errors = stats.deleted.Load(), stats.errors.Load()
		}
		sum.Documents = sum.Added + sum.Updated + sum.Unchanged
		sum.Duration = j.now().Sub(start)
		return sum, err
	}

	if cfg.Sync == config.SyncFull {
		ictx, stopIndex := context.WithCancel(ctx)
		p.index, p.written = p.startIndex(ictx), map[string]int{}
		defer func() {
			stopIndex()
			<-p.index.ready
		}()
	}
	if cp.Phase != phaseDelete {
		pctx, stopProgress := context.WithCancel(ctx)
		progressDone := j.startProgress(pctx, src, stats, start)
		err := p.read(ctx, src)
		stopProgress()
		<-progressDone
		if err != nil {
			return finish(err)
		}
	}
	if j.DryRun {
		return finish(p.planDeletes(ctx))
	}
	if cfg.Sync != config.SyncNone {
		cp.Phase = phaseDelete
		if err := cp.save(sum.Checkpoint); err != nil {
			return finish(err)
		}
		n, err := p.deleteStale(ctx)
		if err != nil {
			if errors.Is(err, ErrTooManyDeletes) {
				return finish(err)
			}
			return finish(fmt.Errorf("sync: %w (every document is stored; resumable: run the same command again to finish the deletions)", err))
		}
		cp.Deleted = n
		stats.deleted.Store(n)
	}
	cp.Phase, cp.Done = phaseDone, true
	if err := cp.save(sum.Checkpoint); err != nil {
		return finish(err)
	}
	if p.seenList != nil {
		// A done pass is never resumed: its list is not needed.
		p.seenList.Close()
		os.Remove(p.seenList.path)
		p.seenList = nil
	}
	sum.Complete = true
	return finish(nil)
}

// planDeletes prints, for a dry run, the documents a sync would delete.
func (p *pass) planDeletes(ctx context.Context) error {
	if p.j.Config.Sync == config.SyncNone {
		return nil
	}
	ids, docs, total, err := p.staleSet(ctx, p.seen)
	if errors.Is(err, qdrant.ErrNotFound) {
		return nil // no collection: nothing to delete
	}
	if err != nil {
		return err
	}
	names := make([]string, 0, len(docs))
	for d := range docs {
		names = append(names, d)
	}
	sort.Strings(names)
	for _, d := range names {
		fmt.Fprintf(p.j.Plan, "- %s\n", d)
	}
	p.stats.deleted.Store(int64(len(docs)))
	if err := p.checkMaxDelete(len(ids), len(docs), total); err != nil {
		fmt.Fprintf(p.j.Plan, "! the sync would be refused: %v\n", err)
	}
	return nil
}

// read runs the read → check → encode → write pipeline to the source's end.
func (p *pass) read(ctx context.Context, src source.Source) error {
	j, cfg, stats, cp := p.j, p.j.Config, p.stats, p.cp
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
		groupQ   = make(chan *group, max(cfg.QueueSize, 1))
		checkedQ = make(chan *batch, max(cfg.QueueSize, 1))
		encodedQ = make(chan *batch, max(cfg.QueueSize, 1))
		setErr   = func(err error) {
			errMu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			errMu.Unlock()
		}
		fail = func(err error) {
			setErr(err)
			cancel()
		}
	)
	wg.Add(3)
	go func() { // read → validate → map
		defer wg.Done()
		defer close(groupQ)
		if err := p.readRecords(ctx, src, groupQ); err != nil {
			if errors.Is(err, ErrTooManyErrors) {
				// Stop reading, but let the stages store what was read.
				setErr(err)
				return
			}
			fail(err)
		}
	}()
	go func() { // compare with the collection → chunk what changed
		defer wg.Done()
		defer close(checkedQ)
		if err := p.checkGroups(ctx, groupQ, checkedQ); err != nil {
			fail(err)
		}
	}()
	go func() { // vectorize
		defer wg.Done()
		defer close(encodedQ)
		for b := range checkedQ {
			stats.inflight.Add(-1)
			if len(b.chunks) > 0 {
				if err := j.Service.Vectorize(ctx, p.ci, b.chunks); err != nil {
					fail(err)
					return
				}
			}
			select {
			case encodedQ <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	// write → checkpoint, on this goroutine.
	for b := range encodedQ {
		if err := p.store(ctx, b); err != nil {
			fail(err)
			break
		}
	}
	cancel()
	wg.Wait()
	for range encodedQ {
	}
	errMu.Lock()
	err := firstErr
	errMu.Unlock()
	switch {
	case err == nil && parent.Err() != nil:
		// The caller's context ended (SIGINT): the pass stopped early and is
		// resumable, not complete.
		return fmt.Errorf("interrupted after record %d (resumable: run the same command again): %w", cp.Seq, parent.Err())
	case err == nil, errors.Is(err, ErrTooManyErrors):
		return err
	}
	if j.DryRun {
		return err
	}
	return fmt.Errorf("%w (acknowledged up to record %d; resumable: run the same command again)", err, cp.Seq)
}

// store writes a batch, then advances the checkpoint.
func (p *pass) store(ctx context.Context, b *batch) error {
	cp, stats := p.cp, p.stats
	if !p.j.DryRun {
		if err := p.write(ctx, b); err != nil {
			return err
		}
	}
	p.mu.Lock()
	for _, id := range b.ids {
		if p.inflight[id]--; p.inflight[id] <= 0 {
			delete(p.inflight, id)
		}
	}
	p.mu.Unlock()
	if p.seenList != nil {
		if err := p.seenList.add(b.ids); err != nil {
			return err
		}
		cp.SeenBytes = p.seenList.size
	}
	cp.Seq, cp.DeadLetterBytes, cp.Errors, cp.UnitBad = b.lastSeq, b.dlSize, b.errors, b.unitBad
	cp.Added += b.added
	cp.Updated += b.updated
	cp.Unchanged += b.unchanged
	cp.Chunks += int64(len(b.chunks))
	stats.stored.Store(b.srcPos)
	if !p.j.DryRun {
		if err := cp.save(p.j.checkpointPath()); err != nil {
			return err
		}
	}
	stats.added.Store(cp.Added)
	stats.updated.Store(cp.Updated)
	stats.unchanged.Store(cp.Unchanged)
	stats.chunks.Store(cp.Chunks)
	if hook := afterCheckpoint; hook != nil {
		hook(cp.Seq)
	}
	return nil
}

// checkpointPath is the checkpoint file of this job (and shard).
func (j *Job) checkpointPath() string {
	p := j.Config.Checkpoint
	if p == "" {
		p = filepath.Join("data", j.Collection+".checkpoint.json")
	}
	if j.Shard.Of > 1 {
		p = j.Shard.path(p)
	}
	return p
}

type runStats struct {
	tokens                            func() uint64 // sparse model tokens this run; may be nil
	records, skipped, others          atomic.Int64  // others: records owned by other shards
	notRead                           atomic.Int64  // units skipped unread
	added, updated, unchanged, errors atomic.Int64
	deleted, chunks                   atomic.Int64
	stored                            atomic.Int64 // source progress (Source.Progress units) acknowledged by Qdrant
	inflight                          atomic.Int64 // batches checked but not yet vectorized
	maxInflight                       atomic.Int64
}

func sparseStats(svc *plugin.Service, ci plugin.CollectionInfo) (interface{ Stats() splade.Stats }, bool) {
	v, ok := svc.Vectorizer(ci.Sparse)
	if !ok {
		return nil, false
	}
	st, ok := v.(interface{ Stats() splade.Stats })
	return st, ok
}

// checkGroupSize is the records compared with the collection per request.
const checkGroupSize = 256

// readRecords turns source records into groups of entries: mapped,
// fingerprinted, dead-lettered when bad; each record knows whether it ends
// its unit (the reader looks one record ahead).
func (p *pass) readRecords(ctx context.Context, src source.Source, out chan<- *group) error {
	j, cfg, cp, stats := p.j, p.j.Config, p.cp, p.stats
	errorsSoFar := cp.Errors
	cur := &group{}
	dlSize := func() int64 {
		if p.dl == nil {
			return 0
		}
		return p.dl.size
	}
	send := func() error {
		g := cur
		cur = &group{}
		select {
		case out <- g:
		case <-ctx.Done():
		}
		return nil
	}
	var prev *entry
	emit := func(e *entry) error {
		cur.entries = append(cur.entries, *e)
		if len(cur.entries) >= checkGroupSize {
			return send()
		}
		return nil
	}
	// register counts an entry's documents in flight as soon as it is
	// made: before the source reads on (and checks the next units).
	register := func(e *entry) {
		p.mu.Lock()
		for _, id := range e.ids() {
			e.busy = e.busy || p.inflight[id] > 0
			p.inflight[id]++
		}
		p.mu.Unlock()
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		rec, err := src.Next()
		if errors.Is(err, io.EOF) {
			if prev != nil {
				prev.unitEnd = true
				emit(prev)
			}
			if len(cur.entries) > 0 {
				return send()
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", cfg.Source.Path, err)
		}
		if prev != nil {
			prev.unitEnd = rec.Unit != prev.unit
			if err := emit(prev); err != nil {
				return err
			}
			prev = nil
		}
		if rec.Seq <= cp.Seq {
			stats.skipped.Add(1)
			pos, _, _ := src.Progress()
			stats.stored.Store(pos)
			continue
		}
		e, recErr := p.entryOf(rec)
		e.dlSize, e.errors = dlSize(), errorsSoFar
		e.pos, _, _ = src.Progress()
		register(e)
		prev = e
		if e.kind != entryBad {
			continue
		}
		if j.DryRun {
			e.reason = recErr.Error()
		} else if werr := p.dl.write(rec, recErr); werr != nil {
			return werr
		}
		errorsSoFar++
		e.dlSize, e.errors = dlSize(), errorsSoFar
		stats.errors.Store(errorsSoFar)
		if cfg.MaxErrors >= 0 && errorsSoFar > int64(cfg.MaxErrors) {
			// The bad record's group is still stored (and checkpointed),
			// so a re-run after the fix does not dead-letter it again.
			e.unitEnd = true
			emit(e)
			send()
			return fmt.Errorf("%w: %d bad records, over ingest.max_errors=%d (last: %s: %v; see %s); nothing was deleted",
				ErrTooManyErrors, errorsSoFar, cfg.MaxErrors, rec.Where, recErr, sumPath(p))
		}
	}
}

// entryOf maps a record to an entry: a document with its fingerprint, a
// bad record (and why), an unchanged unit's documents, or another
// shard's record.
func (p *pass) entryOf(rec source.Record) (*entry, error) {
	j, cfg, stats := p.j, p.j.Config, p.stats
	e := &entry{seq: rec.Seq, where: rec.Where, unit: rec.Unit, token: rec.Token}
	if rec.Unchanged {
		e.kind = entryStub
		for _, d := range p.unitDocs[rec.Unit] {
			if j.Shard.Of <= 1 || j.Shard.owns(d) {
				e.docs = append(e.docs, d)
			}
		}
		delete(p.unitDocs, rec.Unit)
		stats.notRead.Add(1)
		return e, nil
	}
	doc, err := mapRecord(rec, cfg.Fields, cfg.MaxTextBytes)
	if j.Shard.Of > 1 {
		// A document belongs to the shard of its id, so every version of
		// it goes to one worker in source order; a bad record, to the
		// shard of its id when it has one, else of its place, so it is
		// dead-lettered once.
		key := doc.ID
		if err != nil {
			if key = idOf(rec, cfg.Fields); key == "" {
				key = rec.Where
			}
		}
		if !j.Shard.owns(key) {
			stats.others.Add(1)
			e.kind = entryOther
			return e, nil
		}
	}
	stats.records.Add(1)
	if err != nil {
		e.kind, e.keep = entryBad, idOf(rec, cfg.Fields)
		return e, err
	}
	e.doc, e.fp = doc, docFingerprint(p.settings, doc)
	return e, nil
}

func sumPath(p *pass) string {
	if p.dl != nil {
		return p.dl.path
	}
	return "the plan above"
}

// idOf is a bad record's document id when it still has one.
func idOf(rec source.Record, f config.Fields) string {
	if rec.Fields == nil {
		return ""
	}
	id, err := scalarString(rec.Fields[f.ID])
	if err != nil {
		return ""
	}
	return id
}

// checkGroups compares each group's documents with the collection in one
// request, chunks the ones that changed and forms write batches.
func (p *pass) checkGroups(ctx context.Context, in <-chan *group, out chan<- *batch) error {
	j, cfg, stats := p.j, p.j.Config, p.stats
	cur := newBatch()
	inBatch := map[string]bool{}
	unitBad := p.cp.UnitBad
	unitOurs := true // this shard has documents in the unit in progress
	send := func() error {
		if cur.empty() {
			return nil
		}
		b := cur
		cur, inBatch = newBatch(), map[string]bool{}
		if n := stats.inflight.Add(1); n > stats.maxInflight.Load() {
			stats.maxInflight.Store(n)
		}
		select {
		case out <- b:
		case <-ctx.Done():
		}
		return nil
	}
	for g := range in {
		var ask []string
		for _, e := range g.entries {
			if e.kind == entryDoc && !e.busy {
				ask = append(ask, e.doc.ID)
			}
		}
		stored, err := p.storedDocs(ctx, ask)
		if errors.Is(err, qdrant.ErrNotFound) && j.DryRun {
			stored, err = map[string]storedDoc{}, nil // no collection yet
		}
		if err != nil {
			return fmt.Errorf("compare with the collection: %w", err)
		}
		for _, e := range g.entries {
			ids := e.ids()
			for _, id := range ids {
				if inBatch[id] {
					// A document seen again: the earlier version is
					// written first, in its own batch.
					if err := send(); err != nil {
						return err
					}
					break
				}
			}
			for _, id := range ids {
				inBatch[id] = true
				cur.ids = append(cur.ids, id)
				if p.seen != nil {
					p.seen[id] = true
				}
			}
			switch e.kind {
			case entryStub:
				cur.unchanged += int64(len(e.docs))
			case entryBad:
				unitBad = true
				if j.DryRun {
					fmt.Fprintf(j.Plan, "! %s: %s\n", e.where, e.reason)
				}
				if e.keep != "" && e.token != "" {
					// Its stored version stays, marked as read in its unit.
					cur.touch = append(cur.touch, e.keep)
				}
			case entryDoc:
				if err := p.compare(cur, e, stored); err != nil {
					return err
				}
			}
			if e.kind == entryDoc || (e.kind == entryBad && e.keep != "") {
				unitOurs = true
			}
			cur.lastSeq, cur.srcPos, cur.dlSize, cur.errors = e.seq, e.pos, e.dlSize, e.errors
			if e.unitEnd {
				// The unit is read whole: its token goes on its documents.
				// A unit with a bad record gets none (it is read again next
				// time), and loses the stamp an earlier version of it left
				// on the documents this pass found unchanged: a clean run
				// leaves them unstamped too.
				if unitOurs && e.kind != entryStub && !j.DryRun {
					switch {
					case unitBad:
						cur.stamps = append(cur.stamps, stamp{e.unit, ""})
					case e.token != "":
						cur.stamps = append(cur.stamps, stamp{e.unit, unitStamp(p.settings, e.token)})
					}
				}
				unitBad, unitOurs = false, false
			}
			cur.unitBad = unitBad
			if len(cur.chunks) >= cfg.BatchSize || len(cur.ids) >= 4*checkGroupSize {
				if err := send(); err != nil {
					return err
				}
			}
		}
	}
	return send()
}

// compare puts a document in the batch: unchanged (marked with the pass
// when its unit's token is to be stamped), or added or updated (chunked, to
// be vectorized and written).
func (p *pass) compare(b *batch, e entry, stored map[string]storedDoc) error {
	j := p.j
	id := e.doc.ID
	sd, ok := stored[id]
	if !e.busy && ok && sd.job == p.job && sd.run != "" && sd.fp == e.fp {
		b.unchanged++
		if e.token != "" {
			b.touch = append(b.touch, id)
		}
		if sd.unit != e.unit {
			b.moved = append(b.moved, moved{id, e.unit})
		}
		return nil
	}
	mark := "+"
	if e.busy || (ok && sd.job == p.job) {
		b.updated++
		mark = "~"
	} else {
		b.added++
	}
	if j.DryRun {
		fmt.Fprintf(j.Plan, "%s %s\n", mark, id)
		return nil
	}
	chunks, err := j.Service.ChunkDocuments(p.ci, []plugin.DocumentInput{e.doc})
	if err != nil {
		return err
	}
	for i := range chunks {
		chunks[i].Payload = p.syncPayload(chunks[i], e, len(chunks))
	}
	b.chunks = append(b.chunks, chunks...)
	b.counts[id] = len(chunks)
	if p.written != nil {
		p.written[id] = len(chunks)
	}
	if e.busy || ok {
		b.present = append(b.present, id)
	}
	return nil
}

// syncPayload is a chunk's payload: the document's fields and what sync
// needs. Chunk 0 is written uncommitted (run ""); the write commits it.
func (p *pass) syncPayload(c qdrant.Document, e entry, chunks int) map[string]any {
	out := make(map[string]any, len(c.Payload)+6)
	for k, v := range c.Payload {
		out[k] = v
	}
	run := p.run
	if c.Chunk == 0 {
		run = ""
	}
	out[PayloadJob], out[PayloadRun], out[PayloadFingerprint] = p.job, run, e.fp
	out[PayloadChunks], out[PayloadUnit], out[PayloadToken] = int64(chunks), e.unit, ""
	return out
}

// Test hooks: afterCheckpoint runs after every checkpoint, captureStats
// sees a run's counters.
var (
	afterCheckpoint func(seq int64)
	captureStats    func(*runStats)
)

func orNone(name string) string {
	if name == "" {
		return plugin.None
	}
	return name
}

// mapRecord turns a record into a document, or says what is wrong.
func mapRecord(rec source.Record, f config.Fields, maxText int) (plugin.DocumentInput, error) {
	if rec.Err != nil {
		return plugin.DocumentInput{}, rec.Err
	}
	var d plugin.DocumentInput
	idv, ok := rec.Fields[f.ID]
	if !ok {
		return d, fmt.Errorf("missing id field %q", f.ID)
	}
	id, err := scalarString(idv)
	if err != nil || id == "" {
		return d, fmt.Errorf("field %q: id must be a non-empty string or number, got %s", f.ID, describe(idv))
	}
	d.ID = id
	var parts []string
	for _, name := range f.Text {
		v, ok := rec.Fields[name]
		if !ok || v == nil {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return d, fmt.Errorf("field %q: text must be a string, got %s", name, describe(v))
		}
		if strings.TrimSpace(s) != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return d, fmt.Errorf("missing or empty text field(s) %q", f.Text)
	}
	d.Text = strings.Join(parts, "\n\n")
	switch {
	case len(d.Text) > maxText:
		return d, fmt.Errorf("text is %d bytes, over ingest.max_text_bytes=%d", len(d.Text), maxText)
	case !utf8.ValidString(d.Text):
		return d, errors.New("text is not valid UTF-8")
	case strings.IndexByte(d.Text, 0) >= 0:
		return d, errors.New("text contains a NUL byte")
	}
	if len(f.Payload) > 0 {
		d.Payload = map[string]any{}
		for _, name := range f.Payload {
			if v, ok := rec.Fields[name]; ok {
				if name == qdrant.PayloadDocID || name == qdrant.PayloadChunk || name == qdrant.PayloadText || strings.HasPrefix(name, reservedPrefix) {
					return d, fmt.Errorf("payload field %q is a reserved key", name)
				}
				d.Payload[name] = plain(v)
			}
		}
	}
	if f.Dense != "" {
		v, ok := rec.Fields[f.Dense]
		if !ok {
			return d, fmt.Errorf("missing dense vector field %q", f.Dense)
		}
		arr, ok := v.([]any)
		if !ok || len(arr) == 0 {
			return d, fmt.Errorf("field %q: dense vector must be a non-empty array of numbers", f.Dense)
		}
		d.Vector = make([]float32, len(arr))
		for i, e := range arr {
			x, err := number(e)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return d, fmt.Errorf("field %q: element %d is not a finite number", f.Dense, i)
			}
			d.Vector[i] = float32(x)
		}
	}
	return d, nil
}

func scalarString(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	}
	return "", errors.New("not a scalar")
}

func number(v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		return x.Float64()
	case float64:
		return x, nil
	case string:
		var n json.Number = json.Number(x)
		return n.Float64()
	}
	return 0, errors.New("not a number")
}

// plain converts decoded JSON to payload values: integers stay integers.
func plain(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	}
	return v
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case bool:
		return "a bool"
	}
	return fmt.Sprintf("%T", v)
}

// Shard is one worker's share of a source: Index in 0..Of-1.
type Shard struct{ Index, Of int }

// ParseShard reads "I/N" (0 <= I < N). I may also name an environment
// variable that holds the index, as Kubernetes' JOB_COMPLETION_INDEX in an
// Indexed Job: "JOB_COMPLETION_INDEX/3".
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want I/N, e.g. 0/3", s)
	}
	if v, set := os.LookupEnv(i); set && i != "" && (i[0] < '0' || i[0] > '9') {
		i = v
	}
	var sh Shard
	if _, err := fmt.Sscanf(i+" "+n, "%d %d", &sh.Index, &sh.Of); err != nil {
		return Shard{}, fmt.Errorf("shard %q: want I/N with whole numbers, or an environment variable holding I (%v)", s, err)
	}
	return sh, sh.validate()
}

func (s Shard) validate() error {
	if s.Of == 0 && s.Index == 0 {
		return nil
	}
	if s.Of < 1 || s.Index < 0 || s.Index >= s.Of {
		return fmt.Errorf("shard %d/%d: want 0 <= index < count", s.Index, s.Of)
	}
	return nil
}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Of) }

// owns reports whether key (a document id or a record's place) belongs to
// this shard: 32-bit FNV-1a of the key, modulo the count.
func (s Shard) owns(key string) bool {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32()%uint32(s.Of)) == s.Index
}

// path is a file of this shard: "x.json" → "x.shard-1-of-3.json".
func (s Shard) path(p string) string {
	ext := filepath.Ext(p)
	return fmt.Sprintf("%s.shard-%d-of-%d%s", strings.TrimSuffix(p, ext), s.Index, s.Of, ext)
}

// checkResharding refuses a run split differently from an unfinished run
// of the same job (checkpoint base): their shares would overlap and miss
// documents. A finished one is harmless: point ids are deterministic.
func checkResharding(base string, sh Shard) error {
	ext := filepath.Ext(base)
	others, _ := filepath.Glob(strings.TrimSuffix(base, ext) + ".shard-*-of-*" + ext)
	others = append(others, base)
	for _, p := range others {
		cp, err := loadCheckpoint(p)
		if err != nil || cp == nil || cp.Done {
			continue
		}
		of := 1
		if cp.Shard != "" {
			if prev, err := ParseShard(cp.Shard); err == nil {
				of = prev.Of
			}
		}
		if of != max(sh.Of, 1) {
			return fmt.Errorf("checkpoint %s is an unfinished run split %d ways (shard %q); this run is split %d ways: finish that run with the same --shard I/%d, or start over with --restart",
				p, of, cp.Shard, max(sh.Of, 1), of)
		}
	}
	return nil
}
