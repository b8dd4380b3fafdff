package ingest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spladeq/spladeq/connectors/source"
)

// startProgress reports progress until ctx ends: a redrawn bar on a
// terminal, a line every 5 seconds otherwise. The returned channel closes
// when the reporter has stopped.
func (j *Job) startProgress(ctx context.Context, src source.Source, s *runStats, start time.Time) <-chan struct{} {
	done := make(chan struct{})
	every := 5 * time.Second
	if j.Terminal {
		every = 200 * time.Millisecond
	}
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				if j.Terminal {
					fmt.Fprintf(j.Progress, "\r%s\n", j.line(src, s, start))
				}
				return
			case <-t.C:
				if j.Terminal {
					fmt.Fprintf(j.Progress, "\r%s", j.line(src, s, start))
				} else {
					fmt.Fprintln(j.Progress, j.line(src, s, start))
				}
			}
		}
	}()
	return done
}

func (j *Job) line(src source.Source, s *runStats, start time.Time) string {
	el := time.Since(start).Seconds()
	read, total, unit := src.Progress()
	docs, chunks, errs := s.docs.Load(), s.chunks.Load(), s.errors.Load()
	rate := float64(s.records.Load()) / max(el, 1e-9)
	var b strings.Builder
	eta := ""
	if total > 0 {
		frac := min(float64(read)/float64(total), 1)
		const width = 24
		filled := int(frac * width)
		fmt.Fprintf(&b, "[%s%s] %3.0f%% ", strings.Repeat("#", filled), strings.Repeat(".", width-filled), frac*100)
		if frac > 0.01 && frac < 1 {
			eta = fmt.Sprintf(", ETA %s", (time.Duration(el/frac*(1-frac)) * time.Second).Round(time.Second))
		}
	} else {
		fmt.Fprintf(&b, "%d %s read ", read, unit)
	}
	fmt.Fprintf(&b, "%d docs, %d chunks, %.0f docs/s", docs, chunks, rate)
	if s.tokens != nil {
		fmt.Fprintf(&b, ", %.0f tokens/s", float64(s.tokens())/max(el, 1e-9))
	}
	fmt.Fprintf(&b, ", %d errors%s", errs, eta)
	return b.String()
}
