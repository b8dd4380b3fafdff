package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/spladeq/spladeq/config"
)

// BenchmarkDocumentsEndpoint measures POST /v1/collections/{name}/documents
// with the real models (trained small SPLADE + MiniLM) on the embedded
// store: 1, 8 and 64 concurrent clients, each sending requests of 4
// documents for a fixed time, under four micro-batcher settings — each
// encoder call takes what queued during the last, up to 32, 64 (the
// default) or 128 texts, no added wait; and 64 with a 2 ms wait for more
// — and reports docs/s and the p50/p99 request latency of each.
//
//	go test -run '^$' -bench DocumentsEndpoint -benchtime 1x -timeout 30m ./integration/
func BenchmarkDocumentsEndpoint(b *testing.B) {
	settings := []struct {
		name     string
		delay    time.Duration
		maxBatch int
	}{{"max32", 0, 32}, {"default-max64", 0, 64}, {"max128", 0, 128}, {"max64-wait2ms", 2 * time.Millisecond, 64}}
	for _, st := range settings {
		for _, clients := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("%s/clients=%d", st.name, clients), func(b *testing.B) {
				_, srv := inferenceService(b, func(c *config.Config) {
					c.Server.BatchMaxDelay, c.Server.BatchMaxSize = st.delay, st.maxBatch
					c.Server.QueueSize = 4096
				})
				req, _ := http.NewRequest("PUT", srv.URL+"/v1/collections/docs", nil)
				if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
					b.Fatalf("create: %v %v", resp, err)
				}
				const window = 6 * time.Second
				var mu sync.Mutex
				var lat []time.Duration
				docs := 0
				deadline := time.Now().Add(window)
				start := time.Now()
				var wg sync.WaitGroup
				for c := 0; c < clients; c++ {
					wg.Add(1)
					go func(c int) {
						defer wg.Done()
						for i := 0; time.Now().Before(deadline); i++ {
							var ds []map[string]string
							for k := 0; k < 4; k++ {
								d := inferenceDocs[(c+i+k)%len(inferenceDocs)]
								ds = append(ds, map[string]string{"id": fmt.Sprintf("c%d-%d-%d", c, i, k), "text": d.Text + fmt.Sprintf(" (copy %d of client %d)", i, c)})
							}
							body, _ := json.Marshal(map[string]any{"documents": ds})
							t0 := time.Now()
							resp, err := http.Post(srv.URL+"/v1/collections/docs/documents", "application/json", bytes.NewReader(body))
							if err != nil {
								b.Error(err)
								return
							}
							resp.Body.Close()
							d := time.Since(t0)
							mu.Lock()
							if resp.StatusCode == 200 {
								docs += 4
								lat = append(lat, d)
							}
							mu.Unlock()
						}
					}(c)
				}
				wg.Wait()
				el := time.Since(start)
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(docs)/el.Seconds(), "docs/s")
				b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
				b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
			})
		}
	}
}
