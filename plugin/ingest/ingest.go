// Package ingest runs configuration-driven ingestion jobs: read a source,
// chunk, vectorize and upsert into a collection, as three overlapping
// stages joined by bounded queues.
//
// Exactly-once outcome: batches hold whole documents; a batch's checkpoint
// (the last source record it covers, the dead letter's length and the
// counters) is written, atomically, only after Qdrant acknowledged its
// points and the removal of its documents' stale chunks. Point ids are
// deterministic, so re-running the records after the checkpoint (after a
// crash at any moment) rewrites the same points: nothing is lost,
// duplicated or left stale. The dead letter is cut back to the
// checkpoint's length on resume, so it lists each bad record once.
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
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/connectors/source"
	"github.com/spladeq/spladeq/connectors/source/csv"
	"github.com/spladeq/spladeq/connectors/source/files"
	"github.com/spladeq/spladeq/connectors/source/jsonl"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/splade"
)

// ErrTooManyErrors is returned when bad records exceed ingest.max_errors.
var ErrTooManyErrors = errors.New("too many bad records")

// Job is one ingestion run.
type Job struct {
	Service    *plugin.Service
	Config     config.Ingest
	Collection string
	// Restart ignores the checkpoint and starts from the first record.
	Restart bool
	// Progress receives the progress bar (Terminal) or periodic lines.
	Progress io.Writer
	Terminal bool
	Log      *slog.Logger
	// Shard is this worker's share of the source when Shard.Of > 1: it
	// writes the documents whose id hashes to Shard.Index (and dead-letters
	// the bad records whose place does), with its own checkpoint and dead
	// letter. Workers 0..Of-1 over one source write each document exactly
	// once. The zero value is the whole source.
	Shard Shard
	// Open opens the source; default: OpenSource(Config.Source).
	Open func() (source.Source, error)
	// now is the clock, for tests.
	now func() time.Time
}

// Summary is what a run did.
type Summary struct {
	Records    int64         `json:"records"`         // read this run
	Skipped    int64         `json:"skipped"`         // before the checkpoint
	Documents  int64         `json:"documents"`       // stored, all runs
	Chunks     int64         `json:"chunks"`          // stored, all runs
	Errors     int64         `json:"errors"`          // bad records, all runs
	Tokens     uint64        `json:"tokens"`          // through the sparse model this run
	Duration   time.Duration `json:"duration"`        // this run
	DeadLetter string        `json:"dead_letter"`     // path
	Checkpoint string        `json:"checkpoint"`      // path
	Shard      string        `json:"shard,omitempty"` // "i/N" of a sharded run
	Others     int64         `json:"others"`          // records left to other shards, this run
	Resumed    bool          `json:"resumed"`
	Complete   bool          `json:"complete"`
}

// OpenSource opens the configured source.
func OpenSource(c config.Source, maxText int) (source.Source, error) {
	switch c.Type {
	case "jsonl":
		return jsonl.Open(c.Path, maxText+maxText/2+4096)
	case "csv":
		r, _ := utf8.DecodeRuneInString(c.Delimiter)
		return csv.Open(c.Path, r)
	case "dir":
		return files.Open(c.Path, c.Include, c.Exclude, int64(maxText)*4)
	}
	return nil, fmt.Errorf("ingest.source.type: must be jsonl, csv or dir, got %q", c.Type)
}

// batch is whole documents' chunks plus the checkpoint reached after it.
type batch struct {
	chunks  []qdrant.Document
	counts  map[string]int // chunks per document (a document appears once per batch)
	lastSeq int64
	srcPos  int64 // the source's progress (bytes, files) when lastSeq was read
	dlSize  int64
	errors  int64
}

// Run runs the job until the source ends, ctx ends, or an error.
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
	start := j.now()
	cfg := j.Config
	sum := Summary{DeadLetter: cfg.DeadLetter, Checkpoint: cfg.Checkpoint}
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
	if !j.Restart {
		if err := checkResharding(base, j.Shard); err != nil {
			return sum, err
		}
	}

	ci, err := j.Service.EnsureCollection(ctx, j.Collection, plugin.CollectionConfig{})
	if err != nil {
		return sum, err
	}
	fp := fingerprint(cfg.Source)
	store := j.Service.Config().Qdrant.URL
	cp, err := loadCheckpoint(sum.Checkpoint)
	if err != nil {
		return sum, err
	}
	switch {
	case j.Restart || cp == nil:
		cp = &checkpoint{Version: 1, Source: cfg.Source.Path, Fingerprint: fp, Collection: j.Collection, Shard: sum.Shard, Store: store}
	case cp.Store != "" && cp.Store != store:
		return sum, fmt.Errorf("checkpoint %s is for the store %s, not %s: resuming would skip records that store never got; use --restart, or set ingest.checkpoint",
			sum.Checkpoint, cp.Store, store)
	case cp.Source != cfg.Source.Path || cp.Collection != j.Collection:
		return sum, fmt.Errorf("checkpoint %s is for source %s into %s, not %s into %s: use --restart, or set ingest.checkpoint",
			sum.Checkpoint, cp.Source, cp.Collection, cfg.Source.Path, j.Collection)
	case cp.Fingerprint != fp:
		return sum, fmt.Errorf("source %s changed since checkpoint %s (%s, now %s): resuming would skip the wrong records; use --restart",
			cfg.Source.Path, sum.Checkpoint, cp.Fingerprint, fp)
	default:
		sum.Resumed = cp.Seq > 0
	}
	sum.Documents, sum.Chunks, sum.Errors = cp.Docs, cp.Chunks, cp.Errors
	if cp.Done && !j.Restart && cp.Docs > 0 {
		// A finished run whose collection is now empty (dropped, or a
		// different store at the same address) must not report success.
		if n, err := j.Service.Store().Count(ctx, j.Collection, nil); err == nil && n == 0 {
			return sum, fmt.Errorf("checkpoint %s says %d documents were written, but collection %s is empty (dropped or recreated?): use --restart",
				sum.Checkpoint, cp.Docs, j.Collection)
		}
	}
	if cp.Done && !j.Restart {
		sum.Complete = true
		fmt.Fprintf(j.Progress, "already complete: %d documents written as %d chunks (checkpoint %s; --restart to run again)\n", cp.Docs, cp.Chunks, sum.Checkpoint)
		return sum, nil
	}
	dl, err := openDeadLetter(sum.DeadLetter, cp.DeadLetterBytes)
	if err != nil {
		return sum, err
	}
	defer dl.Close()
	open := j.Open
	if open == nil {
		open = func() (source.Source, error) { return OpenSource(cfg.Source, cfg.MaxTextBytes) }
	}
	src, err := open()
	if err != nil {
		return sum, fmt.Errorf("ingest.source: %w", err)
	}
	defer src.Close()

	var tokensBefore uint64
	st, hasStats := sparseStats(j.Service, ci)
	if hasStats {
		tokensBefore = st.Stats().Tokens
	}
	var stats runStats
	if hasStats {
		stats.tokens = func() uint64 { return st.Stats().Tokens - tokensBefore }
	}
	stats.docs.Store(cp.Docs)
	stats.chunks.Store(cp.Chunks)
	stats.errors.Store(cp.Errors)
	if captureStats != nil {
		captureStats(&stats)
	}

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
		readQ    = make(chan *batch, max(cfg.QueueSize, 1))
		encodedQ = make(chan *batch, max(cfg.QueueSize, 1))
		fail     = func(err error) {
			errMu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			errMu.Unlock()
			cancel()
		}
	)
	progressDone := j.startProgress(ctx, src, &stats, start)
	wg.Add(2)
	go func() { // read → validate → chunk
		defer wg.Done()
		defer close(readQ)
		if err := j.read(ctx, src, ci, cp, dl, &stats, readQ); err != nil {
			if errors.Is(err, ErrTooManyErrors) {
				// Stop reading, but let the stages store what was read.
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
				return
			}
			fail(err)
		}
	}()
	go func() { // vectorize
		defer wg.Done()
		defer close(encodedQ)
		for b := range readQ {
			stats.inflight.Add(-1)
			if len(b.chunks) > 0 {
				if err := j.Service.Vectorize(ctx, ci, b.chunks); err != nil {
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
		if err := j.write(ctx, ci, b, cp, sum.Checkpoint, &stats); err != nil {
			fail(err)
			break
		}
	}
	cancel()
	wg.Wait()
	for range encodedQ {
	}
	<-progressDone
	if hasStats {
		sum.Tokens = st.Stats().Tokens - tokensBefore
	}
	sum.Records, sum.Skipped, sum.Others = stats.records.Load(), stats.skipped.Load(), stats.others.Load()
	sum.Documents, sum.Chunks, sum.Errors = cp.Docs, cp.Chunks, cp.Errors
	sum.Duration = j.now().Sub(start)
	errMu.Lock()
	err = firstErr
	errMu.Unlock()
	if err == nil {
		// The caller's context ended (SIGINT): the job stopped early and is
		// resumable, not complete.
		if perr := parent.Err(); perr != nil {
			return sum, fmt.Errorf("interrupted after record %d (resumable: run the same command again): %w", cp.Seq, perr)
		}
		cp.Done = true
		if err := cp.save(sum.Checkpoint); err != nil {
			return sum, err
		}
		sum.Complete = true
		return sum, nil
	}
	if errors.Is(err, ErrTooManyErrors) {
		return sum, err
	}
	return sum, fmt.Errorf("%w (acknowledged up to record %d; resumable: run the same command again)", err, cp.Seq)
}

type runStats struct {
	tokens                                 func() uint64 // sparse model tokens this run; may be nil
	records, skipped, docs, chunks, errors atomic.Int64
	others                                 atomic.Int64 // records owned by other shards
	stored                                 atomic.Int64 // source progress (Source.Progress units) acknowledged by Qdrant
	inflight                               atomic.Int64 // batches read but not yet vectorized
	maxInflight                            atomic.Int64
}

func sparseStats(svc *plugin.Service, ci plugin.CollectionInfo) (interface{ Stats() splade.Stats }, bool) {
	v, ok := svc.Vectorizer(ci.Sparse)
	if !ok {
		return nil, false
	}
	st, ok := v.(interface{ Stats() splade.Stats })
	return st, ok
}

// read turns source records into document-aligned batches.
func (j *Job) read(ctx context.Context, src source.Source, ci plugin.CollectionInfo, cp *checkpoint, dl *deadLetter,
	stats *runStats, out chan<- *batch) error {
	cfg := j.Config
	errorsSoFar := cp.Errors
	cur := &batch{counts: map[string]int{}}
	send := func() error {
		b := cur
		cur = &batch{counts: map[string]int{}}
		b.dlSize, b.errors = dl.size, errorsSoFar
		if n := stats.inflight.Add(1); n > stats.maxInflight.Load() {
			stats.maxInflight.Store(n)
		}
		select {
		case out <- b:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		rec, err := src.Next()
		if errors.Is(err, io.EOF) {
			if cur.lastSeq > 0 {
				return send()
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", cfg.Source.Path, err)
		}
		if rec.Seq <= cp.Seq {
			stats.skipped.Add(1)
			pos, _, _ := src.Progress()
			stats.stored.Store(pos)
			continue
		}
		cur.srcPos, _, _ = src.Progress()
		doc, err := mapRecord(rec, cfg.Fields, cfg.MaxTextBytes)
		if j.Shard.Of > 1 {
			// A document belongs to the shard of its id, so every version
			// of it goes to one worker in source order; a bad record, to
			// the shard of its place, so it is dead-lettered once.
			key := doc.ID
			if err != nil {
				key = rec.Where
			}
			if !j.Shard.owns(key) {
				stats.others.Add(1)
				cur.lastSeq = rec.Seq
				continue
			}
		}
		stats.records.Add(1)
		var chunks []qdrant.Document
		if err == nil {
			chunks, err = j.Service.ChunkDocuments(ci, []plugin.DocumentInput{doc})
		}
		if err != nil {
			if werr := dl.write(rec, err); werr != nil {
				return werr
			}
			errorsSoFar++
			stats.errors.Store(errorsSoFar)
			cur.lastSeq = rec.Seq
			if cfg.MaxErrors >= 0 && errorsSoFar > int64(cfg.MaxErrors) {
				if cur.lastSeq > 0 {
					send()
				}
				return fmt.Errorf("%w: %d bad records, over ingest.max_errors=%d (last: %s: %v; see %s)",
					ErrTooManyErrors, errorsSoFar, cfg.MaxErrors, rec.Where, err, dl.path)
			}
			continue
		}
		// A document seen again in the same batch: send the batch first, so
		// versions are written in source order.
		if _, dup := cur.counts[doc.ID]; dup {
			if err := send(); err != nil {
				return err
			}
		}
		cur.chunks = append(cur.chunks, chunks...)
		cur.counts[doc.ID] = len(chunks)
		cur.lastSeq = rec.Seq
		if len(cur.chunks) >= cfg.BatchSize {
			if err := send(); err != nil {
				return err
			}
		}
	}
}

// write stores a batch, removes its documents' stale chunks, then advances
// the checkpoint.
func (j *Job) write(ctx context.Context, ci plugin.CollectionInfo, b *batch, cp *checkpoint, path string, stats *runStats) error {
	store := j.Service.Store()
	if len(b.chunks) > 0 {
		wo, err := j.Service.WriteOptions(ci)
		if err != nil {
			return err
		}
		if err := store.Upsert(ctx, j.Collection, b.chunks, wo); err != nil {
			return err
		}
		if err := store.DeleteStaleChunks(ctx, j.Collection, b.counts); err != nil {
			return err
		}
	}
	cp.Seq, cp.DeadLetterBytes, cp.Errors = b.lastSeq, b.dlSize, b.errors
	stats.stored.Store(b.srcPos)
	cp.Docs += int64(len(b.counts))
	cp.Chunks += int64(len(b.chunks))
	if err := cp.save(path); err != nil {
		return err
	}
	stats.docs.Store(cp.Docs)
	stats.chunks.Store(cp.Chunks)
	if hook := afterCheckpoint; hook != nil {
		hook(cp.Seq)
	}
	return nil
}

// Test hooks: afterCheckpoint runs after every checkpoint, captureStats
// sees a run's counters.
var (
	afterCheckpoint func(seq int64)
	captureStats    func(*runStats)
)

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
				if name == qdrant.PayloadDocID || name == qdrant.PayloadChunk || name == qdrant.PayloadText {
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

// fingerprint identifies a file source's content version (size and
// modification time); directories are not fingerprinted.
func fingerprint(c config.Source) string {
	st, err := os.Stat(c.Path)
	if err != nil || st.IsDir() {
		return ""
	}
	return fmt.Sprintf("size %d, modified %s", st.Size(), st.ModTime().UTC().Format(time.RFC3339Nano))
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
