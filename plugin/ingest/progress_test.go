package ingest

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spladeq/spladeq/connectors/source"
)

type fakeProgress struct{ done, total int64 }

func (f *fakeProgress) Progress() (int64, int64, string) { return f.done, f.total, "bytes" }

func TestProgressLineShowsBarRatesETAAndErrors(t *testing.T) {
	j := &Job{Terminal: true}
	var s runStats
	s.records.Store(50)
	s.added.Store(40)
	s.updated.Store(3)
	s.unchanged.Store(5)
	s.chunks.Store(60)
	s.errors.Store(2)
	s.tokens = func() uint64 { return 5000 }
	s.stored.Store(250)
	line := j.line(&fakeSource{fakeProgress{done: 400, total: 1000}}, &s, time.Now().Add(-10*time.Second))
	for _, want := range []string{" 25% stored (read 40%, ETA 30s)", "40 added, 3 updated, 5 unchanged", "60 chunks", "5 docs/s", "500 tokens/s", "2 errors"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	unknown := j.line(&fakeSource{fakeProgress{done: 7, total: -1}}, &s, time.Now())
	if !strings.Contains(unknown, "7 bytes read") || strings.Contains(unknown, "ETA") {
		t.Errorf("unknown total: %q", unknown)
	}
}

func TestProgressIsARedrawnBarOnATerminalAndLinesOtherwise(t *testing.T) {
	for _, term := range []bool{true, false} {
		var out bytes.Buffer
		j := &Job{Terminal: term, Progress: &out}
		ctx, cancel := context.WithTimeout(context.Background(), 450*time.Millisecond)
		var s runStats
		s.stored.Store(1)
		done := j.startProgress(ctx, &fakeSource{fakeProgress{2, 2}}, &s, time.Now())
		<-done
		cancel()
		got := out.String()
		if term && (!strings.Contains(got, "\r") || !strings.HasSuffix(got, "\n") || strings.Count(got, "\n") != 1) {
			t.Errorf("terminal output %q: want carriage-return redraws ending in one newline", got)
		}
		// Everything read, half stored: the bar is at 50%, never 100%.
		if term && (!strings.Contains(got, " 50% ") || regexp.MustCompile(`\r\s*100% \|`).MatchString(got) || !strings.Contains(got, "(read 100%)")) {
			t.Errorf("terminal output %q: want the stored share (50%%) and the read share beside it", got)
		}
		if !term && got != "" {
			t.Errorf("non-terminal output within 5s: %q, want none yet (one line per 5s)", got)
		}
	}
}

// fakeSource is a source with given progress and no records.
type fakeSource struct{ fakeProgress }

func (f *fakeSource) Next() (source.Record, error) { return source.Record{}, io.EOF }
func (f *fakeSource) Close() error                 { return nil }
