// Command headthreads times the blocked and the gathered vocabulary head at
// 1 and 2 intra-op threads: four encoders of one model whose document passes
// (then single-query encodes) are rotated, so all four see the same machine
// state. On a shared machine, figures from separate windows differ by more
// than the heads do (BENCHMARKS.md, "Threads").
//
//	go run ./tools/bench/headthreads -model .deps/models/splade-mini \
//	  -corpus .deps/evalsets/go-stdlib/corpus.jsonl \
//	  -queries-file .deps/evalsets/go-stdlib/queries.jsonl -texts 128 -iterations 4
//
// Ratios are "a/b" = b's time ÷ a's time (above 1: a is faster); query
// ratios compare p50 latencies (below 1: a is faster).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/spladeq/spladeq/splade"
)

func main() {
	model := flag.String("model", "", "SPLADE model directory")
	corpus := flag.String("corpus", "", "JSONL documents with a \"text\" field (BEIR corpus.jsonl)")
	n := flag.Int("texts", 128, "documents taken from the start of the corpus")
	iters := flag.Int("iterations", 4, "timed passes over the documents, per encoder")
	queries := flag.Int("queries", 40, "single-query encodes timed per encoder")
	qfile := flag.String("queries-file", "", "JSONL queries with a \"text\" field (BEIR queries.jsonl); default: the documents as queries")
	flag.Parse()
	if err := run(*model, *corpus, *qfile, *n, *iters, *queries); err != nil {
		fmt.Fprintln(os.Stderr, "headthreads:", err)
		os.Exit(1)
	}
}

// readTexts returns the "text" field of up to n lines of a JSONL file
// (n <= 0: all of them).
func readTexts(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var texts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for line := 1; sc.Scan() && (n <= 0 || len(texts) < n); line++ {
		var r struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Text == "" {
			return nil, fmt.Errorf("%s:%d: want a JSON object with a non-empty \"text\" field", path, line)
		}
		texts = append(texts, r.Text)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(texts) == 0 {
		return nil, fmt.Errorf("%s: no texts", path)
	}
	return texts, nil
}

func run(model, corpus, qfile string, n, iters, queries int) error {
	texts, err := readTexts(corpus, n)
	if err != nil {
		return err
	}
	qtexts := texts
	if qfile != "" {
		if qtexts, err = readTexts(qfile, 0); err != nil {
			return err
		}
	}
	cfgs := []struct {
		name           string
		threads, block int
	}{{"blocked-t1", 1, splade.DefaultHeadBlock}, {"gathered-t1", 1, 0}, {"blocked-t2", 2, splade.DefaultHeadBlock}, {"gathered-t2", 2, 0}}
	var encs []*splade.Encoder
	for _, c := range cfgs {
		e, err := splade.New(model, splade.WithIntraOpThreads(c.threads), splade.WithSpinning(false), splade.WithHeadBlock(c.block))
		if err != nil {
			return err
		}
		defer e.Close()
		encs = append(encs, e)
	}
	ctx := context.Background()
	for _, e := range encs { // warm-up
		if _, err := e.Encode(ctx, texts); err != nil {
			return err
		}
	}
	took := make([]time.Duration, len(encs))
	for i := 0; i < iters; i++ {
		for k := range encs {
			j := (i + k) % len(encs)
			t0 := time.Now()
			if _, err := encs[j].Encode(ctx, texts); err != nil {
				return err
			}
			took[j] += time.Since(t0)
		}
	}
	lat := make([][]time.Duration, len(encs))
	for q := 0; q < queries; q++ {
		for k := range encs {
			j := (q + k) % len(encs)
			t0 := time.Now()
			if _, err := encs[j].EncodeQueries(ctx, []string{qtexts[q%len(qtexts)]}); err != nil {
				return err
			}
			lat[j] = append(lat[j], time.Since(t0))
		}
	}
	p50 := func(d []time.Duration) time.Duration {
		s := append([]time.Duration(nil), d...)
		sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
		return s[len(s)/2]
	}
	docs := float64(len(texts) * iters)
	for j, c := range cfgs {
		fmt.Printf("%s docs/s %.1f query-p50 %.2fms\n", c.name, docs/took[j].Seconds(), float64(p50(lat[j]).Microseconds())/1000)
	}
	r := func(a, b int) float64 { return took[b].Seconds() / took[a].Seconds() }
	q := func(a, b int) float64 { return float64(p50(lat[a])) / float64(p50(lat[b])) }
	fmt.Printf("blocked/gathered t1 %.2f t2 %.2f\n", r(0, 1), r(2, 3))
	fmt.Printf("t1/t2 blocked %.2f gathered %.2f\n", r(0, 2), r(1, 3))
	fmt.Printf("query p50 blocked/gathered t1 %.2f t2 %.2f; t1/t2 blocked %.2f\n", q(0, 1), q(2, 3), q(0, 2))
	return nil
}
