package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spladeq/spladeq/connectors/source"
)

// checkpointVersion is the checkpoint format of passes with run ids;
// an earlier checkpoint's unfinished run is not resumed.
const checkpointVersion = 2

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
	UnitBad         bool      `json:"unit_bad,omitempty"`
	Added           int64     `json:"added"`
	Updated         int64     `json:"updated"`
	Unchanged       int64     `json:"unchanged"`
	Deleted         int64     `json:"deleted"`
	Chunks          int64     `json:"chunks"`
	Errors          int64     `json:"errors"`
	DeadLetterBytes int64     `json:"dead_letter_bytes"`
	Done            bool      `json:"done"`
	SavedAt         time.Time `json:"saved_at"`
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
type deadLetter struct {
	f    *os.File
	path string
	size int64
}

type deadEntry struct {
	Where  string    `json:"where"`
	Seq    int64     `json:"seq"`
	Reason string    `json:"reason"`
	Record string    `json:"record"`
	Time   time.Time `json:"time"`
}

// openDeadLetter opens the file and cuts it to keep, the length recorded
// by the checkpoint: entries past it belong to records that run again.
func openDeadLetter(path string, keep int64) (*deadLetter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("dead letter: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.Size() < keep {
		f.Close()
		return nil, fmt.Errorf("dead letter %s is shorter (%d bytes) than its checkpoint says (%d): it was edited; use --restart", path, st.Size(), keep)
	}
	if err := f.Truncate(keep); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(keep, 0); err != nil {
		f.Close()
		return nil, err
	}
	return &deadLetter{f: f, path: path, size: keep}, nil
}

func (d *deadLetter) write(rec source.Record, reason error) error {
	line, err := json.Marshal(deadEntry{Where: rec.Where, Seq: rec.Seq, Reason: reason.Error(), Record: rec.Raw, Time: time.Now().UTC()})
	if err != nil {
		return err
	}
	n, err := d.f.Write(append(line, '\n'))
	d.size += int64(n)
	if err != nil {
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	// Flushed before the checkpoint that counts it is written.
	return d.f.Sync()
}

func (d *deadLetter) Close() error { return d.f.Close() }
