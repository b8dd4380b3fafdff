package ingest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/spladeq/spladeq/config"
)

type cycle struct {
	sum Summary
	err error
}

// startWatch runs j.Watch until the test ends; its reports come on the
// returned channel, its result on done.
func startWatch(t *testing.T, j *Job, stop, abort context.Context) (<-chan cycle, <-chan error) {
	t.Helper()
	reports := make(chan cycle, 16)
	done := make(chan error, 1)
	go func() {
		done <- j.Watch(stop, abort, func(s Summary, err error) { reports <- cycle{s, err} })
	}()
	return reports, done
}

func next(t *testing.T, reports <-chan cycle) cycle {
	t.Helper()
	select {
	case c := <-reports:
		return c
	case <-time.After(2 * time.Minute):
		t.Fatal("no sync within 2 minutes")
	}
	return cycle{}
}

func TestWatchSyncsADirectoryWhenItsFilesChange(t *testing.T) {
	svc, cfg := testService(t)
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a.txt": "first", "sub/b.md": "# B\nsecond"})
	j := syncJob(svc, cfg, root)
	j.Config.Source = config.Source{Type: "dir", Path: root}
	j.Config.WatchInterval, j.Config.WatchDebounce = time.Hour, 100*time.Millisecond
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	reports, done := startWatch(t, j, stop, context.Background())
	if c := next(t, reports); c.err != nil || c.sum.Added != 2 {
		t.Fatalf("first sync: %+v, %v", c.sum, c.err)
	}
	// A burst of changes, in a new directory too, makes one sync.
	writeTree(t, root, map[string]string{"new/deep/c.txt": "third", "d.txt": "fourth"})
	os.Remove(filepath.Join(root, "a.txt"))
	c := next(t, reports)
	if c.err != nil || c.sum.Added+c.sum.Deleted < 2 {
		t.Fatalf("after the changes: %+v, %v", c.sum, c.err)
	}
	for c.sum.Added != 2 || c.sum.Deleted != 1 { // the burst may span two syncs
		if c.sum.Added+c.sum.Deleted == 3 {
			break
		}
		c = next(t, reports)
	}
	writeTree(t, root, map[string]string{"new/deep/e.txt": "in the directory made while watching"})
	if c := next(t, reports); c.err != nil || c.sum.Added != 1 || c.sum.Unchanged != 3 {
		t.Fatalf("a file in a directory made while watching: %+v, %v", c.sum, c.err)
	}
	got := stored(t, svc)
	if len(got) != 4 || got["a.txt"] != nil || got["new/deep/e.txt"] == nil {
		t.Errorf("stored %v", got)
	}
	reg := svc.Metrics().Registry
	if n := testutil.ToFloat64(svc.Metrics().IngestLast.WithLabelValues(c.sum.Job, "added")); n != 1 {
		t.Errorf("spladeq_ingest_last_pass_documents{outcome=added} = %v, want 1", n)
	}
	if n, err := testutil.GatherAndCount(reg, "spladeq_ingest_passes_total"); err != nil || n == 0 {
		t.Errorf("spladeq_ingest_passes_total: %d series, %v", n, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch ended with %v", err)
	}
}

func TestWatchResyncsOtherSourcesOnAnInterval(t *testing.T) {
	svc, cfg := testService(t)
	path := writeJSONL(t, corpusLines(3, nil)...)
	j := syncJob(svc, cfg, path)
	j.Config.WatchInterval = 200 * time.Millisecond
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	reports, done := startWatch(t, j, stop, context.Background())
	if c := next(t, reports); c.err != nil || c.sum.Added != 3 {
		t.Fatalf("first sync: %+v, %v", c.sum, c.err)
	}
	os.WriteFile(path, []byte(strings.Join(corpusLines(2, nil), "\n")+"\n"+`{"id": "z", "text": "new"}`+"\n"), 0o644)
	for i := 0; ; i++ {
		c := next(t, reports)
		if c.err != nil {
			t.Fatal(c.err)
		}
		if c.sum.Added == 1 && c.sum.Deleted == 1 {
			break
		}
		if i == 20 {
			t.Fatalf("20 syncs and the change not seen: %+v", c.sum)
		}
	}
	cancel()
	<-done
}

func TestStoppingAWatchFinishesTheSyncInFlight(t *testing.T) {
	svc, cfg := testService(t)
	cfg.Ingest.BatchSize = 2
	path := writeJSONL(t, corpusLines(40, nil)...)
	for _, tc := range []struct {
		name     string
		abort    bool
		complete bool
	}{{"stop", false, true}, {"abort", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			svc.DeleteCollection(context.Background(), "docs")
			j := syncJob(svc, cfg, path)
			j.Restart = true
			j.Config.WatchInterval = time.Hour
			stop, cancelStop := context.WithCancel(context.Background())
			abort, cancelAbort := context.WithCancel(context.Background())
			defer cancelStop()
			defer cancelAbort()
			n := 0
			afterCheckpoint = func(int64) {
				if n++; n == 2 { // mid-pass
					cancelStop()
					if tc.abort {
						cancelAbort()
					}
				}
			}
			defer func() { afterCheckpoint = nil }()
			reports, done := startWatch(t, j, stop, abort)
			c := next(t, reports)
			if err := <-done; err != nil {
				t.Fatalf("Watch: %v", err)
			}
			if c.sum.Complete != tc.complete || (tc.complete && (c.err != nil || c.sum.Added != 40)) {
				t.Errorf("the sync in flight: %+v, %v; want complete=%v", c.sum, c.err, tc.complete)
			}
			if tc.abort && (c.err == nil || !strings.Contains(c.err.Error(), "resumable")) {
				t.Errorf("aborted sync: %v, want a resumable error", c.err)
			}
			select {
			case c := <-reports:
				t.Errorf("a sync after the stop: %+v", c.sum)
			default:
			}
		})
	}
}
