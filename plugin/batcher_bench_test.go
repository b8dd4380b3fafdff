package plugin

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/spladeq/spladeq/splade"
)

// BenchmarkMicroBatching sends single-text query encodes from 1, 8 and 64
// concurrent clients through the batcher in the same run with batching off
// (one text per forward pass), "queued" (whatever waited during the last
// pass, up to 32 texts, no added wait) and "wait2ms" (also waiting up to
// 2ms for more), and reports throughput and p50/p99 latency of each. Model:
// $SPLADEQ_BENCH_MODEL or the tiny fixture.
func BenchmarkMicroBatching(b *testing.B) {
	model := os.Getenv("SPLADEQ_BENCH_MODEL")
	if model == "" {
		model = "../splade/testdata/models/bert-tiny"
	}
	enc, err := splade.New(model, splade.WithSpinning(false))
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	for _, clients := range []int{1, 8, 64} {
		for _, mode := range []string{"off", "queued", "wait2ms"} {
			name := fmt.Sprintf("clients=%d/batching=%s", clients, mode)
			b.Run(name, func(b *testing.B) {
				maxBatch, delay := 32, time.Duration(0)
				switch mode {
				case "off":
					maxBatch = 1
				case "wait2ms":
					delay = 2 * time.Millisecond
				}
				bt := newBatcher(enc.EncodeQueries, maxBatch, delay, 4096)
				defer bt.Close()
				var mu sync.Mutex
				var lat []time.Duration
				per := max(b.N/clients, 1)
				start := time.Now()
				var wg sync.WaitGroup
				for c := 0; c < clients; c++ {
					wg.Add(1)
					go func(c int) {
						defer wg.Done()
						for i := 0; i < per; i++ {
							t0 := time.Now()
							if _, err := bt.Do(context.Background(), []string{fmt.Sprintf("what is learned sparse retrieval %d %d", c, i)}); err != nil {
								b.Error(err)
								return
							}
							d := time.Since(t0)
							mu.Lock()
							lat = append(lat, d)
							mu.Unlock()
						}
					}(c)
				}
				wg.Wait()
				el := time.Since(start)
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(len(lat))/el.Seconds(), "queries/s")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
	}
}
