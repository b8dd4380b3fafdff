package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/plugin"
)

// benchHybridQueries measures, with c concurrent clients each, a hybrid
// search end to end (Service.Search: both query encodes, then one Qdrant
// round trip) against its parts measured alone: the sparse query encode,
// the dense query encode and the store search with ready vectors. The
// target is hybrid ≤ 1.1 × (max(sparse, dense) + search): the two encodes
// run at once. It also times both encodes at once without the service
// (two goroutines): how much two models slow each other down on this
// machine, the floor under the hybrid figure. threads is each model's
// intra-op thread count (0: automatic, plugin.autoThreads); denseThreads,
// when >= 0, sets the dense model's apart. quantize is both models'
// arithmetic (vectorizers.NAME.quantize).
func benchHybridQueries(ctx context.Context, w io.Writer, sparseModel, denseModel, quantize string, threads, denseThreads int, texts []string, clients []int) error {
	dense := plugin.ResolveModel(denseModel, "models")
	if st, err := os.Stat(dense); err != nil || !st.IsDir() {
		fmt.Fprintf(w, "\nHybrid queries skipped: dense model %q not found (--dense-model).\n", denseModel)
		return nil
	}
	dir, err := os.MkdirTemp("", "spladeq-bench-hybrid")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg, err := config.Load(config.LoadOptions{File: os.DevNull})
	if err != nil {
		return err
	}
	cfg.Qdrant.URL = qdrant.EmbeddedScheme + dir
	cfg.Vectorizers = map[string]config.Vectorizer{
		"sparse": {Module: config.ModuleSPLADE, Model: sparseModel, Threads: threads, Quantize: quantize},
		"dense":  {Module: config.ModuleONNXDense, Model: dense, MaxLength: 256, Threads: threads, Quantize: quantize},
	}
	if denseThreads >= 0 {
		d := cfg.Vectorizers["dense"]
		d.Threads = denseThreads
		cfg.Vectorizers["dense"] = d
	}
	svc, err := plugin.New(ctx, cfg, plugin.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return err
	}
	defer svc.Close()
	if _, err := svc.EnsureCollection(ctx, "bench", plugin.CollectionConfig{}); err != nil {
		return err
	}
	docs := make([]plugin.DocumentInput, len(texts))
	for i, t := range texts {
		docs[i] = plugin.DocumentInput{ID: strconv.Itoa(i), Text: t}
	}
	if _, err := svc.UpsertDocuments(ctx, "bench", docs); err != nil {
		return err
	}
	queries := make([]string, len(texts))
	for i, t := range texts {
		if f := strings.Fields(t); len(f) > 8 {
			t = strings.Join(f[:8], " ")
		}
		queries[i] = t
	}
	enc, err := svc.Encode(ctx, plugin.EncodeInput{Texts: queries[:1], Query: true})
	if err != nil {
		return err
	}
	// The store search alone is the request Service.Search sends: the same
	// prefetch limit and RRF k, payloads included.
	req := qdrant.SearchRequest{Mode: qdrant.ModeHybrid, Fusion: qdrant.FusionRRF, Sparse: enc[0].Sparse.SparseVector, Dense: enc[0].Dense, Limit: 10,
		RRFK: cfg.Search.RRFK, PrefetchLimit: cfg.Search.PrefetchLimit, WithPayload: true}
	fmt.Fprintf(w, "\nHybrid query latency (p50, %d docs; each part measured alone at the same concurrency):\n\n", len(texts))
	fmt.Fprintf(w, "| clients | sparse encode | dense encode | store search | both encodes at once | at once / slower | hybrid Search | hybrid / (max(encodes) + search) | hybrid / (at once + search) |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range clients {
		run := func(fn func(q string) error) ([]time.Duration, error) {
			perClient := max(200/c, 10)
			var mu sync.Mutex
			var lat []time.Duration
			var firstErr error
			var wg sync.WaitGroup
			for k := 0; k < c; k++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < perClient; i++ {
						t0 := time.Now()
						err := fn(queries[(k*perClient+i)%len(queries)])
						d := time.Since(t0)
						mu.Lock()
						if err != nil && firstErr == nil {
							firstErr = err
						}
						lat = append(lat, d)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			return lat, firstErr
		}
		sparse, err := run(func(q string) error {
			_, err := svc.Encode(ctx, plugin.EncodeInput{Texts: []string{q}, Query: true, Dense: plugin.None})
			return err
		})
		if err != nil {
			return err
		}
		denseLat, err := run(func(q string) error {
			_, err := svc.Encode(ctx, plugin.EncodeInput{Texts: []string{q}, Query: true, Sparse: plugin.None})
			return err
		})
		if err != nil {
			return err
		}
		search, err := run(func(string) error {
			_, err := svc.Store().Search(ctx, "bench", req, qdrant.WriteOptions{})
			return err
		})
		if err != nil {
			return err
		}
		// Both encodes at once, without the service: the floor a hybrid
		// query's encodes can reach on this machine.
		both, err := run(func(q string) error {
			errs := make(chan error, 2)
			go func() {
				_, err := svc.Encode(ctx, plugin.EncodeInput{Texts: []string{q}, Query: true, Dense: plugin.None})
				errs <- err
			}()
			_, err := svc.Encode(ctx, plugin.EncodeInput{Texts: []string{q}, Query: true, Sparse: plugin.None})
			return errors.Join(err, <-errs)
		})
		if err != nil {
			return err
		}
		hybrid, err := run(func(q string) error {
			_, err := svc.Search(ctx, "bench", plugin.SearchInput{Query: q, Mode: "hybrid", Fusion: "rrf", Limit: 10})
			return err
		})
		if err != nil {
			return err
		}
		slower := max(pct(sparse, 0.5), pct(denseLat, 0.5))
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %.2f | %s | **%.2f** | %.2f |\n", c, pct(sparse, 0.5), pct(denseLat, 0.5), pct(search, 0.5),
			pct(both, 0.5), float64(pct(both, 0.5))/float64(slower), pct(hybrid, 0.5),
			float64(pct(hybrid, 0.5))/float64(slower+pct(search, 0.5)), float64(pct(hybrid, 0.5))/float64(pct(both, 0.5)+pct(search, 0.5)))
	}
	return nil
}

// peakRSSDuring resets the process's peak resident set (Linux:
// /proc/self/clear_refs) and returns the peak reached while fn runs, or 0
// where that is not available.
func peakRSSDuring(fn func() error) (int64, error) {
	reset := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	if err := fn(); err != nil {
		return 0, err
	}
	if reset != nil {
		return 0, nil
	}
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, nil
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, nil
		}
	}
	return 0, nil
}
