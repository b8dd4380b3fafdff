// Package source defines what an ingestion source yields, and helpers its
// implementations share. Each source type is its own package (jsonl, csv,
// files); plugin/ingest chooses one from the job configuration.
//
// # What sync needs from a source
//
// A job keeps a collection in sync with its source (plugin/ingest). For
// that a source says, besides each record's fields:
//
//   - which unit each record came from (Record.Unit): a unit is a piece of
//     the source that changes as a whole — a file of a directory, an object
//     in a bucket, the one file of a jsonl or csv source. Units are
//     contiguous in source order: all records of a unit come one after
//     another.
//   - the unit's change token (Record.Token), known without reading the
//     unit: a file's size and modification time, an object's ETag or
//     version id. With it, a Skipper lets the job skip unchanged units
//     without reading (downloading) them.
//   - its scope (Scoper): the prefix of the unit keys it reads, so scoped
//     sync deletes only there.
//   - its version (Versioned): what a resumed run compares to decide
//     whether the records before its checkpoint are still the same.
//
// Document-level change detection needs nothing from the source: the job
// fingerprints each record's mapped text and payload itself.
package source

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
)

// Record is one record of a source: its fields, or why it is bad.
type Record struct {
	// Seq numbers records from 1 in source order; a resumed job skips the
	// records up to its checkpoint by Seq.
	Seq int64
	// Where names the record for people: "corpus.jsonl:12",
	// "docs.csv:row 7 (line 9)", "guides/intro.md".
	Where string
	// Fields are the decoded fields; nil when Err is set.
	Fields map[string]any
	// Raw is the record's text as read (cut to 4 KiB), for the dead letter.
	Raw string
	// Err says why the record cannot be used; the job dead-letters it and
	// goes on. Fields may then still hold what could be decoded (a record
	// with bad bytes in its text but a readable id): the job keeps that
	// document's stored points instead of deleting them.
	Err error
	// Unit is the key of the unit the record was read from (see Unit.Key);
	// every source sets it. Sync stores it on the record's points.
	Unit string
	// Token is the unit's change token (see Unit.Token); "" when the source
	// has none.
	Token string
	// Unchanged marks a record that stands for a whole unit the job's
	// UnitCheck reported unchanged: the source did not read the unit, and
	// Fields, Raw and Err are empty. Seq, Where, Unit and Token are set.
	Unchanged bool
}

// Unit is a piece of a source that changes as a whole.
type Unit struct {
	// Key names the unit for good, across runs and working directories: an
	// absolute slash-separated path ("/srv/docs/guide/intro.md"), an object
	// URL ("s3://bucket/guide/intro.md").
	Key string
	// Token changes whenever the unit's content may have changed, and is
	// known without reading the unit: an object's ETag or version id, a
	// file's size and modification time. A token that changes without the
	// content (a touched file) costs a read, never a re-encode: the job
	// then compares the documents' own fingerprints.
	Token string
}

// UnitCheck reports, for units in source order, which are unchanged since
// the collection's last sync: every document read from the unit then is
// stored, under the job's current settings, from a unit with the same key
// and token. The job implements it with one batched store query per call;
// an error is fatal to the run (the source returns it from Next).
type UnitCheck func(units []Unit) (unchanged []bool, err error)

// MaxCheckBatch bounds the units a Skipper passes to one UnitCheck call.
const MaxCheckBatch = 256

// Skipper is a source whose units' tokens are known before the units are
// read (a directory walk, a bucket listing). After SkipUnchanged, the
// source calls check with the units it is about to read — up to
// MaxCheckBatch at a time, in source order — and, for each unit check
// reports unchanged, yields one record with Unchanged set instead of
// reading the unit.
//
// Seq must not depend on the answers: a unit yields the same Seq numbers
// whether it is read or skipped (a source of one record per unit numbers
// units; one of many records per unit can number unit<<32 | record).
type Skipper interface {
	SkipUnchanged(check UnitCheck)
}

// Scoper is a source that reads part of a larger namespace. Scoped sync
// deletes only the points of units whose key begins with Scope: a
// directory's absolute path with a trailing slash, "s3://bucket/prefix",
// the absolute path of a single file.
type Scoper interface {
	Scope() string
}

// Versioned is a source that can name the version of what it lists: a
// file's size and modification time, a digest of a listing's keys and
// tokens. A resumed run skips the records before its checkpoint only when
// the version is the one the checkpoint was written for; otherwise it reads
// the source again (unchanged documents cost no encoding).
type Versioned interface {
	Version() string
}

// Token is a file's change token: its size and modification time.
func Token(st os.FileInfo) string {
	return fmt.Sprintf("%d@%d", st.Size(), st.ModTime().UnixNano())
}

// AbsKey is path as a unit key: absolute, cleaned, slash-separated.
func AbsKey(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return filepath.ToSlash(filepath.Clean(path))
}

// Source yields records in a fixed order. Next returns io.EOF after the
// last record; any other error is fatal to the job (the source cannot be
// read), as opposed to Record.Err.
type Source interface {
	Next() (Record, error)
	Close() error
	// Progress reports how far the source has been read and its total, in
	// unit ("bytes" or "files"); total is -1 when unknown.
	Progress() (done, total int64, unit string)
}

// MaxRaw bounds Record.Raw.
const MaxRaw = 4 << 10

// Clip cuts s to MaxRaw bytes for Record.Raw.
func Clip(s string) string {
	if len(s) > MaxRaw {
		return s[:MaxRaw] + "…"
	}
	return s
}

// File is an opened input (a file, or an object's body), decompressed
// transparently when it is gzip (by content, not by name), counting the
// bytes of the input read so far.
type File struct {
	io.Reader
	c       io.Closer
	gz      *gzip.Reader
	read    atomic.Int64
	pos     atomic.Int64
	size    int64
	version string
}

// Version is the file's size and modification time when it was opened.
func (f *File) Version() string { return f.version }

// countingReader counts the bytes read from the file itself (compressed
// bytes for gzip), so progress matches the file's size.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// OpenFile opens path for reading.
func OpenFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory, not a file", path)
	}
	in, err := NewFile(path, f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	in.version = Token(st)
	return in, nil
}

// NewFile reads r (size bytes, -1 if unknown), named name in errors, as
// OpenFile reads a file: gzip by content. Close closes r.
func NewFile(name string, r io.ReadCloser, size int64) (*File, error) {
	in := &File{c: r, size: size}
	br := bufio.NewReaderSize(countingReader{r, &in.read}, 256<<10)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: starts with the gzip signature (1f 8b) but is not a valid gzip stream: %w", name, err)
		}
		in.gz, in.Reader = gz, gzipErrors{gz}
	} else {
		in.Reader = br
	}
	return in, nil
}

// gzipErrors says, on an error in the middle of a gzip stream (truncated
// file, corrupt data), that the gzip stream is what is broken.
type gzipErrors struct{ r io.Reader }

func (g gzipErrors) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("corrupt or truncated gzip stream: %w", err)
	}
	return n, err
}

// SetPosition records how far the parser reading f has got, in bytes of
// the file: the end of the last record it returned. Readers buffer far
// ahead (a small file is read whole at once), so progress counts this
// position rather than the bytes read. For gzip, whose parsed bytes are
// not file bytes, Progress keeps the compressed bytes read.
func (f *File) SetPosition(n int64) { f.pos.Store(n) }

// Progress is how much of the file has been parsed (SetPosition; bytes
// read for gzip or a parser that does not say) and its size.
func (f *File) Progress() (int64, int64) {
	if p := f.pos.Load(); f.gz == nil && p > 0 {
		return p, f.size
	}
	return f.read.Load(), f.size
}

// Close closes the file.
func (f *File) Close() error {
	if f.gz != nil {
		f.gz.Close()
	}
	return f.c.Close()
}
