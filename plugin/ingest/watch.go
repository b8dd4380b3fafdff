package ingest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch keeps the collection in sync with the source: a pass now, then
// one each time the source may have changed — for a dir source when its
// files change (file-system events, once ingest.watch_debounce passed with
// none) and at least every ingest.watch_interval; for other sources every
// ingest.watch_interval. Each pass's summary and error go to report and to
// the service's metrics; a failed pass does not end the watch (the next
// one resumes or retries it).
//
// When stop ends, Watch returns after the pass in flight finishes; when
// abort ends, the pass in flight stops at once (resumable). Passes run
// under abort.
func (j *Job) Watch(stop, abort context.Context, report func(Summary, error)) error {
	cfg := j.Config
	interval, debounce := cfg.WatchInterval, cfg.WatchDebounce
	if interval <= 0 {
		interval = time.Minute
	}
	changed := make(chan struct{}, 1)
	if cfg.Source.Type == "dir" && j.Open == nil {
		w, err := watchTree(stop, cfg.Source.Path, debounce, changed)
		if err != nil {
			return fmt.Errorf("watch %s: %w", cfg.Source.Path, err)
		}
		defer w.Close()
	}
	for {
		// Changes seen before the pass starts are in it.
		select {
		case <-changed:
		default:
		}
		start := time.Now()
		sum, err := j.Run(abort)
		j.Service.Metrics().ObserveIngest(sum.Job, [5]int64{sum.Added, sum.Updated, sum.Unchanged, sum.Deleted, sum.Errors}, time.Since(start), err == nil && sum.Complete)
		report(sum, err)
		j.Restart = false // only the first pass ignores a checkpoint
		if abort.Err() != nil || stop.Err() != nil {
			return nil
		}
		t := time.NewTimer(interval)
		select {
		case <-stop.Done():
			t.Stop()
			return nil
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// treeWatcher watches a directory tree.
type treeWatcher struct {
	w    *fsnotify.Watcher
	done chan struct{}
}

func (t *treeWatcher) Close() {
	t.w.Close()
	<-t.done
}

// watchTree signals changed once no file-system event under root came for
// debounce after the last one. New directories are watched as they appear
// (fsnotify watches one directory at a time).
func watchTree(ctx context.Context, root string, debounce time.Duration, changed chan<- struct{}) (*treeWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	add := func(dir string) error {
		return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return nil // gone meanwhile
				}
				return err
			}
			if d.IsDir() {
				return w.Add(p)
			}
			return nil
		})
	}
	if err := add(root); err != nil {
		w.Close()
		return nil, err
	}
	tw := &treeWatcher{w: w, done: make(chan struct{})}
	go func() {
		defer close(tw.done)
		var quiet <-chan time.Time
		var timer *time.Timer
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if ev.Has(fsnotify.Create) {
					if st, err := os.Stat(ev.Name); err == nil && st.IsDir() {
						add(ev.Name)
					}
				}
				if timer != nil {
					timer.Stop()
				}
				timer = time.NewTimer(debounce)
				quiet = timer.C
			case _, ok := <-w.Errors:
				if !ok {
					return
				}
				// An overflowed queue lost events: sync to be sure.
				select {
				case changed <- struct{}{}:
				default:
				}
			case <-quiet:
				quiet = nil
				select {
				case changed <- struct{}{}:
				default:
				}
			}
		}
	}()
	return tw, nil
}
