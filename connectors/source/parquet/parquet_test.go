package parquet

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spladeq/spladeq/connectors/source"
	"github.com/spladeq/spladeq/internal/pyarrowtest"
)

// readAll reads every record of s.
func readAll(t *testing.T, s *Source) []source.Record {
	t.Helper()
	var recs []source.Record
	for {
		r, err := s.Next()
		if errors.Is(err, io.EOF) {
			return recs
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
}

// normal turns decoded values into what encoding/json makes of the
// reference's JSON (numbers float64), so the two compare with DeepEqual.
func normal(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normal(e)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = normal(e)
		}
		return out
	}
	return v
}

func cols(names ...string) []Column {
	var out []Column
	for _, n := range names {
		out = append(out, Column{Name: n, Key: "ingest.fields.payload"})
	}
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	pyarrowtest.Cleanup()
	os.Exit(code)
}

func TestEveryColumnTypeReadsAsPyarrowReadsIt(t *testing.T) {
	pf := pyarrowtest.All(t)
	path := pf.Path("types")
	var want []map[string]any
	if err := json.Unmarshal(pf.Want["types"], &want); err != nil {
		t.Fatal(err)
	}
	names := []string{"id", "sid", "text", "score", "f32", "flag", "vec", "tags", "ts", "ms", "day", "dec", "bin", "st", "i8", "u64", "dict"}
	s, err := Open(path, cols(names...))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs := readAll(t, s)
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i, r := range recs {
		if r.Err != nil {
			t.Fatalf("row %d: %v", i+1, r.Err)
		}
		if r.Seq != int64(i+1) {
			t.Errorf("row %d: seq %d", i+1, r.Seq)
		}
		for _, name := range names {
			got, w := normal(r.Fields[name]), want[i][name]
			if name == "u64" && i == 2 {
				// 2^63+5 is past float64's exact integers: compare the text.
				if r.Fields[name] != json.Number("9223372036854775813") {
					t.Errorf("row %d u64 = %v, want 9223372036854775813", i+1, r.Fields[name])
				}
				continue
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("row %d column %s: got %#v, want %#v (pyarrow)", i+1, name, got, w)
			}
		}
	}
	// An integer id reads as json.Number, as the JSON Lines source gives it.
	if id := recs[0].Fields["id"]; id != json.Number("1") {
		t.Errorf("id = %#v, want json.Number(\"1\")", id)
	}
	if recs[2].Where != "types.parquet:row 3 (row group 2)" {
		t.Errorf("where = %q", recs[2].Where)
	}
	if done, total, unit := s.Progress(); done != 5 || total != 5 || unit != "rows" {
		t.Errorf("progress %d/%d %s, want 5/5 rows", done, total, unit)
	}
}

func TestMissingColumnsListTheFilesColumns(t *testing.T) {
	path := pyarrowtest.All(t).Path("other")
	_, err := Open(path, []Column{{"id", "ingest.fields.id"}, {"text", "ingest.fields.text"}, {"url", "ingest.fields.payload"}})
	if err == nil {
		t.Fatal("opened a file without the text column")
	}
	for _, want := range []string{"other.parquet", `"text" (ingest.fields.text)`, `"url" (ingest.fields.payload)`, "id (STRING), title (STRING), body (STRING)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), `"id" (`) {
		t.Errorf("error %q names the id column, which the file has", err)
	}
}

func TestTextThatIsNotUTF8IsABadRecordNamingItsColumn(t *testing.T) {
	path := pyarrowtest.All(t).Path("badutf8")
	s, err := Open(path, cols("id", "text"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs := readAll(t, s)
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	if recs[0].Err != nil || recs[2].Err != nil {
		t.Errorf("good rows failed: %v, %v", recs[0].Err, recs[2].Err)
	}
	if err := recs[1].Err; err == nil || !strings.Contains(err.Error(), `column "text": not valid UTF-8 (at byte 4)`) {
		t.Errorf("row 2 error = %v, want the column and byte named", err)
	}
	if !strings.Contains(recs[1].Where, "row 2") || !strings.Contains(recs[1].Raw, `"id":"b"`) {
		t.Errorf("bad record where %q raw %q", recs[1].Where, recs[1].Raw)
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r    io.ReaderAt
	read atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.read.Add(int64(n))
	return n, err
}

// A file whose unread "blob" column is most of its bytes: reading id and
// text fetches a small part of it, and the first row needs only the first
// row group's pages.
func TestOnlyMappedColumnsAreReadRowGroupByRowGroup(t *testing.T) {
	pf := pyarrowtest.All(t)
	path := pf.Path("large")
	var want struct {
		Count       int
		First, Last map[string]any
	}
	if err := json.Unmarshal(pf.Want["large"], &want); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	cr := &countingReaderAt{r: f}
	s, err := New(cr, st.Size(), "large.parquet", "/large.parquet", cols("id", "text"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first, err := s.Next()
	if err != nil || first.Err != nil {
		t.Fatal(err, first.Err)
	}
	if !reflect.DeepEqual(first.Fields, want.First) {
		t.Errorf("first row %v, want %v", first.Fields, want.First)
	}
	atFirst := cr.read.Load()
	// 10 row groups of 500 rows: one row group's id and text are well under
	// a tenth of the file.
	if atFirst > st.Size()/10 {
		t.Errorf("read %d of %d bytes for the first row: the file is not streamed by row group", atFirst, st.Size())
	}
	n, last := 1, first
	for {
		r, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n, last = n+1, r
	}
	if n != want.Count || !reflect.DeepEqual(last.Fields, want.Last) {
		t.Errorf("%d rows, last %v; want %d, %v", n, last.Fields, want.Count, want.Last)
	}
	total := cr.read.Load()
	// The blob column is about 90% of the file.
	if frac := float64(total) / float64(st.Size()); frac > 0.3 || math.IsNaN(frac) {
		t.Errorf("read %d of %d bytes (%.0f%%) for two small columns: unmapped columns were read", total, st.Size(), 100*frac)
	}
	t.Logf("first row after %d bytes, all rows after %d of %d bytes", atFirst, total, st.Size())
}

func TestNotAParquetFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.parquet")
	os.WriteFile(path, []byte("id,text\n1,hello\n"), 0o644)
	_, err := Open(path, cols("id"))
	if err == nil || !strings.Contains(err.Error(), "x.parquet: not a readable Parquet file") {
		t.Errorf("error = %v", err)
	}
}
