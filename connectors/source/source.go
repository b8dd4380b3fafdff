// Package source defines what an ingestion source yields, and helpers its
// implementations share. Each source type is its own package (jsonl, csv,
// files); plugin/ingest chooses one from the job configuration.
package source

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
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
	// goes on.
	Err error
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

// File is an opened input file, decompressed transparently when it is gzip
// (by content, not by name), counting the bytes of the file read so far.
type File struct {
	io.Reader
	f    *os.File
	gz   *gzip.Reader
	read atomic.Int64
	pos  atomic.Int64
	size int64
}

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
	in := &File{f: f, size: st.Size()}
	br := bufio.NewReaderSize(countingReader{f, &in.read}, 256<<10)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: starts with the gzip signature (1f 8b) but is not a valid gzip stream: %w", path, err)
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
	return f.f.Close()
}
