// Package jsonl reads JSON Lines: one JSON object per line, blank lines
// skipped, gzip read transparently, in bounded memory.
package jsonl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spladeq/spladeq/connectors/source"
	"github.com/spladeq/spladeq/internal/text"
)

// DefaultMaxLine bounds one line; longer lines are bad records.
const DefaultMaxLine = 16 << 20

// Source reads a JSONL file.
type Source struct {
	f       *source.File
	r       *bufio.Reader
	name    string
	line    int64
	seq     int64
	maxLine int
	pos     int64  // bytes of the file consumed by readLine
	unit    string // the file's unit key
}

var (
	_ source.Source    = (*Source)(nil)
	_ source.Scoper    = (*Source)(nil)
	_ source.Versioned = (*Source)(nil)
)

// Open opens path; maxLine <= 0 means DefaultMaxLine.
func Open(path string, maxLine int) (*Source, error) {
	f, err := source.OpenFile(path)
	if err != nil {
		return nil, err
	}
	return New(f, filepath.Base(path), source.AbsKey(path), maxLine), nil
}

// New reads f, an opened input named name in records' places ("name:12"),
// whose records' unit is unit; maxLine <= 0 means DefaultMaxLine. Close
// closes f.
func New(f *source.File, name, unit string, maxLine int) *Source {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	return &Source{f: f, r: bufio.NewReaderSize(f, 64<<10), name: name, maxLine: maxLine, unit: unit}
}

// readLine returns the next line without its newline, and whether it was
// longer than maxLine (then only its start is kept, the rest discarded).
func (s *Source) readLine() ([]byte, bool, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := s.r.ReadSlice('\n')
		s.pos += int64(len(chunk))
		if len(buf)+len(chunk) > s.maxLine {
			tooLong = true
			if len(buf) < source.MaxRaw {
				buf = append(buf, chunk[:min(len(chunk), source.MaxRaw)]...)
			}
		} else {
			buf = append(buf, chunk...)
		}
		switch {
		case err == nil:
			return bytes.TrimRight(buf, "\r\n"), tooLong, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return bytes.TrimRight(buf, "\r\n"), tooLong, nil
		default:
			return nil, false, err
		}
	}
}

// Next returns the next record.
func (s *Source) Next() (source.Record, error) {
	for {
		line, tooLong, err := s.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return source.Record{}, io.EOF
			}
			return source.Record{}, fmt.Errorf("%s:%d: %w", s.name, s.line+1, err)
		}
		s.line++
		s.f.SetPosition(s.pos)
		if len(bytes.TrimSpace(line)) == 0 && !tooLong {
			continue
		}
		s.seq++
		rec := source.Record{Seq: s.seq, Where: fmt.Sprintf("%s:%d", s.name, s.line), Raw: source.Clip(string(line)), Unit: s.unit}
		bad := text.FirstInvalidUTF8(line)
		switch {
		case tooLong:
			rec.Err = fmt.Errorf("line is longer than %d bytes", s.maxLine)
		case bad >= 0:
			rec.Err = fmt.Errorf("invalid UTF-8 at byte %d", bad)
			// What decodes still names the document (its id), so sync keeps
			// its stored version instead of deleting it.
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			var fields map[string]any
			if dec.Decode(&fields) == nil {
				rec.Fields = fields
			}
		default:
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			var fields map[string]any
			if err := dec.Decode(&fields); err != nil {
				var se *json.SyntaxError
				if errors.As(err, &se) {
					rec.Err = fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, se)
				} else {
					rec.Err = fmt.Errorf("not a JSON object: %v", err)
				}
			} else if dec.More() {
				rec.Err = fmt.Errorf("more than one JSON value on the line (at byte %d)", dec.InputOffset())
			} else if fields == nil {
				rec.Err = errors.New("not a JSON object: null")
			} else {
				rec.Fields = fields
			}
		}
		return rec, nil
	}
}

// Progress reports bytes of the file parsed.
func (s *Source) Progress() (int64, int64, string) {
	d, t := s.f.Progress()
	return d, t, "bytes"
}

// Scope is the file's absolute path: its records' unit.
func (s *Source) Scope() string { return s.unit }

// Version is the file's size and modification time.
func (s *Source) Version() string { return s.f.Version() }

// Close closes the file.
func (s *Source) Close() error { return s.f.Close() }
