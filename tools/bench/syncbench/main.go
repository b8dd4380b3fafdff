// Command syncbench measures what keeping a collection in sync costs, with
// ingest.sync: full: an initial ingestion of a corpus into a fresh
// collection, then -reruns times a re-run over the unchanged corpus and a
// re-run after another 1% of its documents changed, each timed. Each store
// (the embedded one, and each Qdrant given) goes through it in turn. The
// figures are in BENCHMARKS.md ("Keeping a collection in sync").
//
//	python3 tools/synccorpus/build.py --out .deps/synccorpus/corpus.jsonl --docs 50000
//	go run ./tools/bench/syncbench -config bench.yaml -corpus .deps/synccorpus/corpus.jsonl \
//	  -docs 50000 -reruns 3 -qdrant 127.0.0.1:6334
//
// The models are the configuration's (-config; default: the defaults, the
// models `make models` installs). Each line reports the initial ingestion's
// time, a re-run pair's times and their share of it, and the load average;
// the counts each run reports are checked (a re-run that encodes more than
// it should fails the benchmark).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/plugin/ingest"
)

type backends []string

func (b *backends) String() string     { return strings.Join(*b, ",") }
func (b *backends) Set(s string) error { *b = append(*b, s); return nil }

func main() {
	cfgFile := flag.String("config", "", "spladeq config (models, chunking); default: the defaults")
	corpus := flag.String("corpus", ".deps/synccorpus/corpus.jsonl", "JSONL documents {id, title, text} (tools/synccorpus/build.py)")
	docs := flag.Int("docs", 50000, "documents taken from the start of the corpus")
	runs := flag.Int("runs", 1, "repetitions of the whole measurement (a fresh collection each)")
	reruns := flag.Int("reruns", 3, "unchanged and changed re-runs after each initial ingestion (each changes another 1%)")
	changed := flag.Float64("changed", 0.01, "share of documents changed before the last re-run")
	work := flag.String("work", "", "scratch directory (default: a temporary one)")
	embedded := flag.Bool("embedded", true, "measure the embedded store")
	var qdrants backends
	flag.Var(&qdrants, "qdrant", "a Qdrant gRPC address to measure as well (repeatable)")
	flag.Parse()
	if err := run(*cfgFile, *corpus, *docs, *runs, *reruns, *changed, *work, *embedded, qdrants); err != nil {
		fmt.Fprintln(os.Stderr, "syncbench:", err)
		os.Exit(1)
	}
}

type record struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

func readCorpus(path string, n int) ([]record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for line := 1; sc.Scan() && len(out) < n; line++ {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.ID == "" || r.Text == "" {
			return nil, fmt.Errorf("%s:%d: want a JSON object with id and text", path, line)
		}
		out = append(out, r)
	}
	if len(out) < n {
		return nil, fmt.Errorf("%s has %d documents, fewer than -docs %d", path, len(out), n)
	}
	return out, sc.Err()
}

// writeCorpus writes docs as the job's source; the documents whose index
// modulo step is in edited have a sentence appended.
func writeCorpus(path string, docs []record, step int, edited map[int]bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for i, d := range docs {
		if step > 0 && edited[i%step] {
			d.Text += "\n\nRevised: this entry was edited after the first ingestion."
		}
		if err := enc.Encode(d); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func loadavg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

func run(cfgFile, corpusPath string, n, runs, reruns int, changed float64, work string, withEmbedded bool, qdrants []string) error {
	docs, err := readCorpus(corpusPath, n)
	if err != nil {
		return err
	}
	if work == "" {
		if work, err = os.MkdirTemp("", "syncbench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	base, err := config.Load(config.LoadOptions{File: cfgFile})
	if err != nil {
		return err
	}
	var targets []string
	if withEmbedded {
		targets = append(targets, "embedded")
	}
	targets = append(targets, qdrants...)
	step := int(1 / changed)
	src := filepath.Join(work, "corpus.jsonl")
	fmt.Printf("%d documents of %s; changed: 1 in %d; models: sparse %s, dense %s, bm25 %s\n",
		n, corpusPath, step, base.Vectorizers[base.Collection.Sparse].Model, base.Vectorizers[base.Collection.Dense].Model, base.Collection.BM25)
	fmt.Println("| run | store | initial | re-run | unchanged re-run | share | 1% changed re-run | share | load (start → end) |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for r := 0; r < runs; r++ {
		for _, target := range targets {
			cfg := *base
			cfg.Qdrant.URL = target
			if target == "embedded" {
				cfg.Qdrant.URL = qdrant.EmbeddedScheme + filepath.Join(work, fmt.Sprintf("store-%d", r))
			}
			cfg.Ingest.Source = config.Source{Type: "jsonl", Path: src}
			cfg.Ingest.Fields = config.Fields{ID: "id", Text: []string{"title", "text"}}
			cfg.Ingest.Sync, cfg.Ingest.MaxDelete = config.SyncFull, 0.5
			cfg.Ingest.Checkpoint = filepath.Join(work, fmt.Sprintf("checkpoint-%d.json", r))
			cfg.Ingest.DeadLetter = filepath.Join(work, fmt.Sprintf("dead-%d.jsonl", r))
			os.Remove(cfg.Ingest.Checkpoint)
			collection := fmt.Sprintf("syncbench_%d", r)
			lines, err := measure(&cfg, collection, docs, src, step, r, reruns)
			for _, line := range lines {
				fmt.Printf("| %d | %s | %s\n", r+1, strings.SplitN(target, ":", 2)[0], line)
			}
			if err != nil {
				return fmt.Errorf("run %d, %s: %w", r+1, target, err)
			}
		}
	}
	return nil
}

// measure ingests docs into a fresh collection, then re-runs the job
// reruns times over the unchanged corpus and after another 1% of it
// changed; it returns a table line per re-run.
func measure(cfg *config.Config, collection string, docs []record, src string, step, r, reruns int) ([]string, error) {
	ctx := context.Background()
	svc, err := plugin.New(ctx, cfg, plugin.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return nil, err
	}
	defer svc.Close()
	svc.DeleteCollection(ctx, collection)
	defer svc.DeleteCollection(ctx, collection)
	job := func() *ingest.Job { return &ingest.Job{Service: svc, Config: cfg.Ingest, Collection: collection} }
	if err := writeCorpus(src, docs, step, nil); err != nil {
		return nil, err
	}
	timed := func(check func(ingest.Summary) bool) (time.Duration, error) {
		start := time.Now()
		sum, err := job().Run(ctx)
		d := time.Since(start)
		if err == nil && !check(sum) {
			err = fmt.Errorf("unexpected counts %+v", sum)
		}
		fmt.Fprintf(os.Stderr, "%s %s: %v: %d added, %d updated, %d unchanged, %d deleted, %d chunks, %d tokens (load %s)\n",
			time.Now().Format(time.TimeOnly), collection, d.Round(time.Millisecond), sum.Added, sum.Updated, sum.Unchanged, sum.Deleted, sum.Chunks, sum.Tokens, loadavg())
		return d, err
	}
	n := int64(len(docs))
	initial, err := timed(func(s ingest.Summary) bool { return s.Added == n })
	if err != nil {
		return nil, err
	}
	share := func(d time.Duration) string { return fmt.Sprintf("%.2f%%", 100*d.Seconds()/initial.Seconds()) }
	var lines []string
	edited := map[int]bool{} // offsets changed so far: each re-run changes one more
	for k := 0; k < reruns; k++ {
		start := loadavg()
		unchanged, err := timed(func(s ingest.Summary) bool { return s.Unchanged == n && s.Chunks == 0 && s.Tokens == 0 })
		if err != nil {
			return lines, err
		}
		offset := (r*reruns + k) % step
		edited[offset] = true
		if err := writeCorpus(src, docs, step, edited); err != nil {
			return lines, err
		}
		want := (n - int64(offset) + int64(step) - 1) / int64(step)
		changed, err := timed(func(s ingest.Summary) bool { return s.Updated == want && s.Unchanged == n-want })
		if err != nil {
			return lines, err
		}
		lines = append(lines, fmt.Sprintf("%s | %d | %s | %s | %s (%d updated) | %s | %s → %s |",
			initial.Round(time.Second), k+1, unchanged.Round(10*time.Millisecond), share(unchanged),
			changed.Round(10*time.Millisecond), want, share(changed), start, loadavg()))
		fmt.Fprintln(os.Stderr, lines[len(lines)-1])
	}
	return lines, nil
}
