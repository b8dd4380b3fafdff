// Command encodetime times spladeq's document encoder the way
// tools/bench/fastembed_splade.py times fastembed's: the model loaded, one
// warm-up pass, then the same texts encoded a number of times; it prints
// documents per second. tools/bench/fastembed_int8.sh alternates it with
// fastembed, pass by pass, so both see the same machine state.
//
//	go run ./tools/bench/encodetime -model .deps/models/splade-mini -quantize int8 \
//	  -corpus .deps/evalsets/go-stdlib/corpus.jsonl -texts 128 -iterations 3 -threads 2
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/spladeq/spladeq/splade"
	"github.com/spladeq/spladeq/splade/hfgraph"
)

func main() {
	model := flag.String("model", "", "SPLADE model directory")
	quantize := flag.String("quantize", "fp32", "fp32 or int8")
	corpus := flag.String("corpus", "", "JSONL documents with a \"text\" field (BEIR corpus.jsonl)")
	n := flag.Int("texts", 128, "documents taken from the start of the corpus")
	iters := flag.Int("iterations", 3, "timed passes over the documents")
	threads := flag.Int("threads", 2, "intra-op threads (0: splade.DefaultThreads)")
	flag.Parse()
	if err := run(*model, *quantize, *corpus, *n, *iters, *threads); err != nil {
		fmt.Fprintln(os.Stderr, "encodetime:", err)
		os.Exit(1)
	}
}

func run(model, quantize, corpus string, n, iters, threads int) error {
	q, err := hfgraph.ParseQuantization(quantize)
	if err != nil {
		return err
	}
	texts, err := readTexts(corpus, n)
	if err != nil {
		return err
	}
	enc, err := splade.New(model, splade.WithQuantization(q), splade.WithIntraOpThreads(threads), splade.WithSpinning(false))
	if err != nil {
		return err
	}
	defer enc.Close()
	ctx := context.Background()
	if _, err := enc.Encode(ctx, texts); err != nil {
		return err
	}
	start := time.Now()
	for range iters {
		if _, err := enc.Encode(ctx, texts); err != nil {
			return err
		}
	}
	el := time.Since(start)
	info := enc.Info()
	fmt.Printf("spladeq %s: %.1f docs/s (%d texts x %d, %d threads, graph %s%s)\n", info.Quantization,
		float64(iters*len(texts))/el.Seconds(), len(texts), iters, enc.Threads(), info.ONNX, info.Checkpoint)
	return nil
}

func readTexts(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var out []string
	for sc.Scan() && len(out) < n {
		var rec struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		out = append(out, rec.Text)
	}
	return out, sc.Err()
}
