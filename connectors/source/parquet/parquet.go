// Package parquet reads Parquet files as records: each row is a record
// whose fields are the file's top-level columns named by the job's field
// mapping (id, text, payload, dense), read one row group at a time and
// page by page within it, so memory follows a page, not the file. Only
// the mapped columns are read (a column chunk no field names is never
// fetched, which matters for a file read by ranges from object storage).
//
// Values become what the JSON Lines source yields for the same data:
// integers and floats json.Number (an id column of integers works as an
// id), strings string, lists []any, structs map[string]any, timestamps
// RFC 3339 strings in UTC, dates YYYY-MM-DD, null nil. A string that is not
// UTF-8 makes the row a bad record naming its column.
package parquet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/spladeq/spladeq/connectors/source"
	"github.com/spladeq/spladeq/internal/text"
)

// Column is a top-level column a job needs, and the setting that names it
// (for errors: "ingest.fields.text").
type Column struct {
	Name, Key string
}

// rowsPerRead is how many rows are decoded per call into the row group.
const rowsPerRead = 128

// Source reads one Parquet file.
type Source struct {
	name    string
	unit    string // records' unit key
	version string // a local file's size and modification time
	file    *pq.File
	closer  io.Closer
	// conv projects a row group onto the needed columns; schema is the
	// projection, leaves its top-level fields by name.
	conv   pq.Conversion
	schema *pq.Schema
	fields map[string]pq.Node
	group  int // next row group
	rows   pq.Rows
	buf    []pq.Row
	n, i   int
	row    atomic.Int64 // rows returned, across row groups
	total  int64
	// readErr is set when ReadRows failed; Next returns it.
	readErr error
}

var (
	_ source.Source    = (*Source)(nil)
	_ source.Scoper    = (*Source)(nil)
	_ source.Versioned = (*Source)(nil)
)

// Open opens the Parquet file at path, needing columns.
func Open(path string, columns []Column) (*Source, error) {
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
		return nil, fmt.Errorf("%s is a directory, not a Parquet file", path)
	}
	s, err := New(f, st.Size(), filepath.Base(path), source.AbsKey(path), columns, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.version = source.Token(st)
	return s, nil
}

// New reads the Parquet data r of size bytes, named name in records'
// places and errors, whose records' unit is unit, needing columns (each
// must be a top-level column of the file: the error lists the file's
// columns otherwise). Close closes closer, if not nil; New does not close
// it when it fails.
func New(r io.ReaderAt, size int64, name, unit string, columns []Column, closer io.Closer) (*Source, error) {
	// Column chunks are read through a buffer of this size: one read per
	// MiB of a column, which is one ranged request for an object.
	f, err := pq.OpenFile(r, size, pq.SkipPageIndex(true), pq.SkipBloomFilters(true), pq.ReadBufferSize(1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", name, err)
	}
	have := map[string]pq.Field{}
	for _, fl := range f.Schema().Fields() {
		have[fl.Name()] = fl
	}
	group := pq.Group{}
	var missing []string
	for _, c := range columns {
		fl, ok := have[c.Name]
		if !ok {
			missing = append(missing, fmt.Sprintf("%q (%s)", c.Name, c.Key))
			continue
		}
		group[c.Name] = fl
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: no column %s; the file's columns are: %s", name, strings.Join(missing, ", "), Describe(f.Schema()))
	}
	if len(group) == 0 {
		return nil, fmt.Errorf("%s: no columns to read", name)
	}
	schema := pq.NewSchema("projection", group)
	conv, err := pq.Convert(schema, f.Schema())
	if err != nil {
		return nil, fmt.Errorf("%s: project columns: %w", name, err)
	}
	fields := map[string]pq.Node{}
	for _, fl := range schema.Fields() {
		fields[fl.Name()] = fl
	}
	return &Source{name: name, unit: unit, file: f, closer: closer, conv: conv, schema: schema, fields: fields,
		buf: make([]pq.Row, rowsPerRead), total: f.NumRows()}, nil
}

// Describe lists a schema's top-level columns with their types:
// "id (INT64), text (STRING), vec (LIST<FLOAT>)".
func Describe(s *pq.Schema) string {
	var parts []string
	for _, fl := range s.Fields() {
		parts = append(parts, fmt.Sprintf("%s (%s)", fl.Name(), typeName(fl)))
	}
	return strings.Join(parts, ", ")
}

func typeName(n pq.Node) string {
	if !n.Leaf() {
		fs := n.Fields()
		if lt := n.Type().LogicalType(); lt != nil && lt.Value != nil {
			if _, ok := lt.Value.(*format.ListType); ok && len(fs) == 1 && !fs[0].Leaf() && len(fs[0].Fields()) == 1 {
				return "LIST<" + typeName(fs[0].Fields()[0]) + ">"
			}
			return lt.String()
		}
		if n.Repeated() && len(fs) == 0 {
			return "GROUP"
		}
		return "STRUCT"
	}
	t := n.Type()
	name := t.Kind().String()
	if lt := t.LogicalType(); lt != nil && lt.Value != nil {
		switch v := lt.Value.(type) {
		case *format.IntType:
			if v.IsSigned {
				name = fmt.Sprintf("INT%d", v.BitWidth)
			} else {
				name = fmt.Sprintf("UINT%d", v.BitWidth)
			}
		case *format.TimestampType:
			name = "TIMESTAMP"
		default:
			name = lt.String()
		}
	}
	if n.Repeated() {
		return "REPEATED " + name
	}
	return name
}

// Next returns the next row.
func (s *Source) Next() (source.Record, error) {
	for s.i >= s.n {
		if s.readErr != nil {
			return source.Record{}, s.readErr
		}
		if err := s.fill(); err != nil {
			return source.Record{}, err
		}
	}
	row := s.buf[s.i]
	s.i++
	seq := s.row.Add(1)
	rec := source.Record{Seq: seq, Where: fmt.Sprintf("%s:row %d (row group %d)", s.name, seq, s.group), Unit: s.unit}
	m := map[string]any{}
	if err := s.schema.Reconstruct(&m, row); err != nil {
		rec.Err = fmt.Errorf("decode row: %v", err)
		return rec, nil
	}
	fields := make(map[string]any, len(m))
	var bad error
	for name, v := range m {
		cv, err := convert(s.fields[name], v)
		if err != nil && bad == nil {
			bad = fmt.Errorf("column %q: %w", name, err)
		}
		fields[name] = cv
	}
	if raw, err := json.Marshal(fields); err == nil {
		rec.Raw = source.Clip(string(raw))
	}
	if bad != nil {
		rec.Err = bad
		return rec, nil
	}
	rec.Fields = fields
	return rec, nil
}

// fill decodes the next rows, opening the next row group when the current
// one is done; io.EOF after the last.
func (s *Source) fill() error {
	s.i, s.n = 0, 0
	if s.rows == nil {
		groups := s.file.RowGroups()
		if s.group >= len(groups) {
			return io.EOF
		}
		s.rows = pq.ConvertRowGroup(groups[s.group], s.conv).Rows()
		s.group++
	}
	n, err := s.rows.ReadRows(s.buf)
	s.n = n
	if errors.Is(err, io.EOF) {
		s.rows.Close()
		s.rows = nil
		return nil
	}
	if err != nil {
		err = fmt.Errorf("%s: row group %d, after row %d: %w", s.name, s.group, s.row.Load()+int64(n), err)
		if n == 0 {
			return err
		}
		s.readErr = err // return the rows read first
	}
	return nil
}

// convert turns a reconstructed value into what the JSON Lines source
// yields; the error says why the value is unusable (a string that is not
// UTF-8), the value is still returned for the dead letter.
func convert(n pq.Node, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if n != nil && n.Leaf() {
		if lt := n.Type().LogicalType(); lt != nil && lt.Value != nil {
			switch t := lt.Value.(type) {
			case *format.TimestampType:
				if x, ok := toInt64(v); ok {
					unit := time.Microsecond
					if t.Unit.Value != nil {
						unit = t.Unit.Value.Duration()
					}
					return timestamp(x, unit).UTC().Format(time.RFC3339Nano), nil
				}
			case *format.DateType:
				if x, ok := toInt64(v); ok {
					return time.Unix(x*86400, 0).UTC().Format("2006-01-02"), nil
				}
			case *format.DecimalType:
				if x, ok := v.(*big.Float); ok {
					return json.Number(x.Text('f', int(t.Scale))), nil
				}
			case *format.IntType:
				if !t.IsSigned && t.BitWidth == 64 {
					if x, ok := toInt64(v); ok {
						return json.Number(strconv.FormatUint(uint64(x), 10)), nil
					}
				}
			}
		}
	}
	var elem pq.Node
	if n != nil && !n.Leaf() {
		// A LIST's element node, for its values' logical types.
		if fs := n.Fields(); len(fs) == 1 && !fs[0].Leaf() && len(fs[0].Fields()) == 1 {
			elem = fs[0].Fields()[0]
		}
	}
	switch x := v.(type) {
	case string:
		if i := firstInvalid(x); i >= 0 {
			return x, fmt.Errorf("not valid UTF-8 (at byte %d)", i)
		}
		return x, nil
	case []byte:
		if i := firstInvalid(string(x)); i >= 0 {
			return string(x), fmt.Errorf("not valid UTF-8 (at byte %d)", i)
		}
		return string(x), nil
	case bool:
		return x, nil
	case int:
		return json.Number(strconv.FormatInt(int64(x), 10)), nil
	case int8, int16, int32, int64:
		i, _ := toInt64(x)
		return json.Number(strconv.FormatInt(i, 10)), nil
	case uint, uint8, uint16, uint32, uint64:
		return json.Number(fmt.Sprint(x)), nil
	case float32:
		return floatValue(float64(x), 32), nil
	case float64:
		return floatValue(x, 64), nil
	case []any:
		out := make([]any, len(x))
		var bad error
		for i, e := range x {
			cv, err := convert(elem, e)
			if err != nil && bad == nil {
				bad = fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = cv
		}
		return out, bad
	case map[string]any:
		out := make(map[string]any, len(x))
		sub := map[string]pq.Node{}
		if n != nil && !n.Leaf() {
			for _, f := range n.Fields() {
				sub[f.Name()] = f
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var bad error
		for _, k := range keys {
			cv, err := convert(sub[k], x[k])
			if err != nil && bad == nil {
				bad = fmt.Errorf("field %q: %w", k, err)
			}
			out[k] = cv
		}
		return out, bad
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case *big.Float:
		return json.Number(x.Text('g', 17)), nil
	}
	return fmt.Sprint(v), nil
}

// floatValue is a json.Number with the shortest text that reads back as
// the same float of that size (a float32 0.1 is "0.1", not
// 0.10000000149011612); NaN and infinities stay floats.
func floatValue(x float64, bits int) any {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	return json.Number(strconv.FormatFloat(x, 'g', -1, bits))
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

func timestamp(x int64, unit time.Duration) time.Time {
	switch unit {
	case time.Millisecond:
		return time.UnixMilli(x)
	case time.Nanosecond:
		return time.Unix(0, x)
	}
	return time.UnixMicro(x)
}

func firstInvalid(s string) int {
	if utf8.ValidString(s) {
		return -1
	}
	return text.FirstInvalidUTF8([]byte(s))
}

// Scope is the file's unit key (a local file's absolute path).
func (s *Source) Scope() string { return s.unit }

// Version is a local file's size and modification time.
func (s *Source) Version() string { return s.version }

// Progress reports rows read and the file's row count.
func (s *Source) Progress() (int64, int64, string) {
	return s.row.Load(), s.total, "rows"
}

// Close closes the file.
func (s *Source) Close() error {
	if s.rows != nil {
		s.rows.Close()
		s.rows = nil
	}
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}
