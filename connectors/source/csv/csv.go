// Package csv reads CSV with a header row: each row becomes a record whose
// fields are named by the header. Quoting follows RFC 4180; gzip is read
// transparently.
package csv

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spladeq/spladeq/connectors/source"
)

// Source reads a CSV file.
type Source struct {
	f      *source.File
	r      *csv.Reader
	name   string
	header []string
	row    int64
	unit   string // the file's unit key
}

var (
	_ source.Source    = (*Source)(nil)
	_ source.Scoper    = (*Source)(nil)
	_ source.Versioned = (*Source)(nil)
)

// Open opens path and reads its header; delimiter 0 means ','.
func Open(path string, delimiter rune) (*Source, error) {
	f, err := source.OpenFile(path)
	if err != nil {
		return nil, err
	}
	return New(f, filepath.Base(path), source.AbsKey(path), delimiter)
}

// New reads f, an opened input named name in records' places and errors,
// whose records' unit is unit, and reads its header; delimiter 0 means ','.
// Close closes f; so does New when it fails.
func New(f *source.File, name, unit string, delimiter rune) (*Source, error) {
	r := csv.NewReader(f)
	if delimiter != 0 {
		r.Comma = delimiter
	}
	r.FieldsPerRecord = -1 // checked per row, so a bad row is a bad record, not the end
	header, err := r.Read()
	if err != nil {
		f.Close()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file: want a header row", name)
		}
		return nil, fmt.Errorf("%s: header: %w", name, err)
	}
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if h == "" || seen[h] {
			f.Close()
			return nil, fmt.Errorf("%s: header column %d is empty or repeated (%q)", name, i+1, h)
		}
		seen[h] = true
		header[i] = h
	}
	return &Source{f: f, r: r, name: name, header: header, unit: unit}, nil
}

// Next returns the next row.
func (s *Source) Next() (source.Record, error) {
	fields, err := s.r.Read()
	if errors.Is(err, io.EOF) {
		return source.Record{}, io.EOF
	}
	s.f.SetPosition(s.r.InputOffset())
	s.row++
	rec := source.Record{Seq: s.row, Unit: s.unit}
	var pe *csv.ParseError
	switch {
	case errors.As(err, &pe):
		rec.Where = fmt.Sprintf("%s:row %d (line %d)", s.name, s.row, pe.StartLine)
		rec.Err = fmt.Errorf("malformed CSV at line %d column %d: %v", pe.Line, pe.Column, pe.Err)
		return rec, nil
	case err != nil:
		return source.Record{}, fmt.Errorf("%s:row %d: %w", s.name, s.row, err)
	}
	// FieldPos is only defined for a successfully read record with fields.
	line := 0
	if len(fields) > 0 {
		line, _ = s.r.FieldPos(0)
	}
	rec.Where = fmt.Sprintf("%s:row %d (line %d)", s.name, s.row, line)
	rec.Raw = source.Clip(strings.Join(fields, string(s.r.Comma)))
	if len(fields) != len(s.header) {
		rec.Err = fmt.Errorf("has %d fields, the header has %d", len(fields), len(s.header))
		return rec, nil
	}
	rec.Fields = make(map[string]any, len(fields))
	for i, v := range fields {
		// A bad field makes a bad record, but the fields stay: the id
		// still names the document, so sync keeps its stored version.
		if !utf8.ValidString(v) && rec.Err == nil {
			rec.Err = fmt.Errorf("field %q is not valid UTF-8", s.header[i])
		}
		rec.Fields[s.header[i]] = v
	}
	return rec, nil
}

// Progress reports bytes of the file read.
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
