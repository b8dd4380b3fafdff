package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spladeq/spladeq/connectors/source"
)

// checkpointVersion is the checkpoint format of passes with run ids and
// a seen list; an earlier checkpoint's unfinished run is not resumed.
const checkpointVersion = 3

// Phases of a pass.
const (
	phaseRead   = "read"   // reading, comparing, writing
	phaseDelete = "delete" // the source is read and stored; deleting what it no longer holds
	phaseDone   = "done"
)

// checkpoint is a pass's durable progress.
type checkpoint struct {
	Version       int    `json:"version"`
	Run           string `json:"run"` // the pass's id, on its points
	Job           string `json:"job"`
	Phase         string `json:"phase"`
	Source        string `json:"source"`
	SourceVersion string `json:"source_version,omitempty"` // resumed only over the same
	Settings      string `json:"settings"`                 // models and chunking fingerprint
	Collection    string `json:"collection"`
	Store         string `json:"store,omitempty"` // qdrant.url written to
	Shard         string `json:"shard,omitempty"` // "i/N" of a sharded run
	Seq           int64  `json:"seq"`             // every record up to here is acknowledged or dead-lettered
	// UnitBad: the unit in progress at Seq had a bad record (its token is
	// not stamped).
	UnitBad         bool  `json:"unit_bad,omitempty"`
	Added           int64 `json:"added"`
	Updated         int64 `json:"updated"`
	Unchanged       int64 `json:"unchanged"`
	Deleted         int64 `json:"deleted"`
	Chunks          int64 `json:"chunks"`
	Errors          int64 `json:"errors"`
	DeadLetterBytes int64 `json:"dead_letter_bytes"`
	// SeenBytes is the length of the seen list (ingest.sync): the
	// documents of the records up to Seq.
	SeenBytes int64     `json:"seen_bytes,omitempty"`
	Done      bool      `json:"done"`
	SavedAt   time.Time `json:"saved_at"`
}

func loadCheckpoint(path string) (*checkpoint, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		return nil, fmt.Errorf("checkpoint %s does not parse (%v): delete it or use --restart", path, err)
	}
	return &cp, nil
}

// save writes the checkpoint atomically: a temporary file, fsync, rename,
// fsync of the directory. A crash leaves the old or the new checkpoint.
func (cp *checkpoint) save(path string) error {
	cp.SavedAt = time.Now().UTC()
	data, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// deadLetter is the JSONL file of rejected records.
type deadLetter struct{ appendLog }

type deadEntry struct {
	Where  string    `json:"where"`
	Seq    int64     `json:"seq"`
	Reason string    `json:"reason"`
	Record string    `json:"record"`
	Time   time.Time `json:"time"`
}

// appendLog is a file a pass appends to, whose length the checkpoint
// records.
type appendLog struct {
	f    *os.File
	path string
	size int64
}

// openAppendLog opens the file and cuts it to keep, the length recorded
// by the checkpoint: what is past it belongs to records that run again.
func openAppendLog(what, path string, keep int64) (appendLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return appendLog{}, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return appendLog{}, fmt.Errorf("%s: %w", what, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return appendLog{}, err
	}
	if st.Size() < keep {
		f.Close()
		return appendLog{}, fmt.Errorf("%s %s is shorter (%d bytes) than its checkpoint says (%d): it was edited; use --restart", what, path, st.Size(), keep)
	}
	if err := f.Truncate(keep); err != nil {
		f.Close()
		return appendLog{}, err
	}
	if _, err := f.Seek(keep, 0); err != nil {
		f.Close()
		return appendLog{}, err
	}
	return appendLog{f: f, path: path, size: keep}, nil
}

// append writes data and flushes it to disk: before the checkpoint that
// counts it is written.
func (l *appendLog) append(what string, data []byte) error {
	n, err := l.f.Write(data)
	l.size += int64(n)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, l.path, err)
	}
	return l.f.Sync()
}

func (l *appendLog) Close() error { return l.f.Close() }

func openDeadLetter(path string, keep int64) (*deadLetter, error) {
	l, err := openAppendLog("dead letter", path, keep)
	if err != nil {
		return nil, err
	}
	return &deadLetter{l}, nil
}

func (d *deadLetter) write(rec source.Record, reason error) error {
	line, err := json.Marshal(deadEntry{Where: rec.Where, Seq: rec.Seq, Reason: reason.Error(), Record: rec.Raw, Time: time.Now().UTC()})
	if err != nil {
		return err
	}
	return d.append("dead letter", append(line, '\n'))
}

// seenList is, with ingest.sync, the ids of the documents a pass read so
// far, one Go-quoted string a line (any bytes round-trip): what the
// deletion at the pass's end keeps.
// It is beside the checkpoint and, like the dead letter, cut back to the
// length the checkpoint records when a pass resumes.
type seenList struct{ appendLog }

// seenPath is the seen list of a checkpoint file.
func seenPath(checkpoint string) string {
	return strings.TrimSuffix(checkpoint, ".json") + ".seen"
}

func openSeenList(path string, keep int64) (*seenList, error) {
	l, err := openAppendLog("seen list", path, keep)
	if err != nil {
		return nil, err
	}
	return &seenList{l}, nil
}

// add appends ids.
func (s *seenList) add(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	var buf []byte
	for _, id := range ids {
		buf = strconv.AppendQuote(buf, id)
		buf = append(buf, '\n')
	}
	return s.append("seen list", buf)
}

// load reads the list's ids, up to its size.
func (s *seenList) load() (map[string]bool, error) {
	data := make([]byte, s.size)
	if _, err := s.f.ReadAt(data, 0); err != nil && s.size > 0 {
		return nil, fmt.Errorf("seen list %s: %w", s.path, err)
	}
	seen := map[string]bool{}
	for n, line := range bytes.Split(data, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		id, err := strconv.Unquote(string(line))
		if err != nil {
			return nil, fmt.Errorf("seen list %s:%d: %v: it was edited; use --restart", s.path, n+1, err)
		}
		seen[id] = true
	}
	return seen, nil
}
