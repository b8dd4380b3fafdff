package ingest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/spladeq/spladeq/connectors/source"
)

// startProgress reports progress until ctx ends: a progress bar on a
// terminal (schollz/progressbar: redraws, terminal width, ETA), a line
// every 5 seconds otherwise. The bar measures what Qdrant has acknowledged
// — it reaches 100% only when the last batch is stored — and says how far
// reading has got beside it. The returned channel closes when the reporter
// has drawn its final state.
func (j *Job) startProgress(ctx context.Context, src source.Source, s *runStats, start time.Time) <-chan struct{} {
	done := make(chan struct{})
	if !j.Terminal {
		go func() {
			defer close(done)
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					fmt.Fprintln(j.Progress, j.line(src, s, start))
				}
			}
		}()
		return done
	}
	_, total, unit := src.Progress()
	max := total
	if max <= 0 {
		max = -1 // a spinner: the source's size is unknown
	}
	bar := progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(j.Progress),
		progressbar.OptionSetWidth(24),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowBytes(unit == "bytes"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetRenderBlankState(true),
	)
	update := func() {
		bar.Set64(s.stored.Load())
		bar.Describe(j.detail(src, s, start))
	}
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				// The final state as it is: never filled to 100% for a
				// run that stopped before storing everything.
				update()
				fmt.Fprintln(j.Progress)
				return
			case <-t.C:
				update()
			}
		}
	}()
	return done
}

// detail is what the bar shows after itself: counts, rates, reading.
func (j *Job) detail(src source.Source, s *runStats, start time.Time) string {
	el := max(time.Since(start).Seconds(), 1e-9)
	var b strings.Builder
	fmt.Fprintf(&b, "%d added, %d updated, %d unchanged", s.added.Load(), s.updated.Load(), s.unchanged.Load())
	if n := s.deleted.Load(); n > 0 {
		fmt.Fprintf(&b, ", %d deleted", n)
	}
	fmt.Fprintf(&b, ", %d errors; %d chunks written, %.0f docs/s", s.errors.Load(), s.chunks.Load(), float64(s.records.Load())/el)
	if s.tokens != nil {
		fmt.Fprintf(&b, ", %.0f tokens/s", float64(s.tokens())/el)
	}
	if read, total, _ := src.Progress(); total > 0 && read > s.stored.Load() {
		fmt.Fprintf(&b, " (read %.0f%%)", 100*float64(read)/float64(total))
	}
	return b.String()
}

// line is a periodic progress line for logs: what is stored (acknowledged
// by Qdrant) against the source, and how far reading has got.
func (j *Job) line(src source.Source, s *runStats, start time.Time) string {
	el := time.Since(start).Seconds()
	read, total, unit := src.Progress()
	stored := s.stored.Load()
	var b strings.Builder
	if total > 0 {
		frac := min(float64(stored)/float64(total), 1)
		fmt.Fprintf(&b, "%3.0f%% stored (read %.0f%%", frac*100, 100*min(float64(read)/float64(total), 1))
		if frac > 0.01 && frac < 1 {
			fmt.Fprintf(&b, ", ETA %s", (time.Duration(el/frac*(1-frac)) * time.Second).Round(time.Second))
		}
		b.WriteString("): ")
	} else {
		fmt.Fprintf(&b, "%d %s read: ", read, unit)
	}
	b.WriteString(j.detail(src, s, start))
	return b.String()
}
