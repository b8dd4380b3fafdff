package main

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/plugin"
)

func newCollectionCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "collection", Short: "change an existing collection (add-signal)"}
	cmd.AddCommand(newAddSignalCmd())
	return cmd
}

func newAddSignalCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "add-signal bm25|sparse|dense --config FILE [--batch-size N]", Args: cobra.ExactArgs(1),
		Short: "give an existing collection a signal in place, from its stored text",
		Long: "Adds the signal's vector to collection.name (Qdrant 1.18 or later, or the embedded store) and fills it\n" +
			"from each point's stored text with the vectorizer the configuration names for it (collection.bm25,\n" +
			"collection.sparse, collection.dense), in batches; the signals the collection has are not re-encoded.\n" +
			"Searches keep using the other signals meanwhile, and a search naming the new one says it is not\n" +
			"complete yet. Resumable: after a crash or Ctrl-C, the same command continues with the points still\n" +
			"without the vector."}
	fs := cmd.Flags()
	file, keys := configFlags(fs)
	batch := fs.Int("batch-size", 0, "points read, vectorized and written at a time (default ingest.batch_size)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
		signal := args[0]
		if !slices.Contains(config.Signals, signal) {
			return usageError{fmt.Errorf("signal must be one of bm25, sparse, dense, got %q", signal)}
		}
		if *batch < 0 {
			return usageError{fmt.Errorf("--batch-size must be >= 1, got %d", *batch)}
		}
		svc, cfg, _, err := openService(ctx, fs, *file, keys, stderr)
		if err != nil {
			return err
		}
		defer svc.Close()
		start := time.Now()
		res, err := svc.AddSignal(ctx, cfg.Collection.Name, signal, plugin.AddSignalOptions{BatchSize: *batch, Progress: addSignalProgress(stderr, start)})
		if err != nil {
			return err
		}
		printAddSignal(stdout, res, time.Since(start))
		return nil
	}
	return cmd
}

// addSignalProgress prints a progress line at most once a second, the last
// one always, none twice.
func addSignalProgress(w io.Writer, start time.Time) func(plugin.AddSignalProgress) {
	var last time.Time
	var shown plugin.AddSignalProgress
	return func(p plugin.AddSignalProgress) {
		if p == shown || (time.Since(last) < time.Second && p.Filled < p.Total) {
			return
		}
		last, shown = time.Now(), p
		pct := 100.0
		if p.Total > 0 {
			pct = 100 * float64(p.Filled) / float64(p.Total)
		}
		rate := float64(p.Written) / max(time.Since(start).Seconds(), 1e-3)
		fmt.Fprintf(w, "add-signal %s %s: %d of %d points (%.1f%%), %d written this run, %.0f points/s\n",
			p.Collection, p.Signal, p.Filled, p.Total, pct, p.Written, rate)
	}
}

func printAddSignal(w io.Writer, r plugin.AddSignalResult, d time.Duration) {
	if r.Complete {
		fmt.Fprintf(w, "collection %s already has its %s signal (vectorizer %s): nothing to do\n", r.Collection, r.Signal, r.Vectorizer)
		return
	}
	verb := "resumed"
	if r.Created {
		verb = "created"
	}
	fmt.Fprintf(w, "collection %s: %s signal %s (vectorizer %s); %d points written in %v; %d of %d points have it\n",
		r.Collection, r.Signal, verb, r.Vectorizer, r.Written, d.Round(time.Millisecond), r.Filled, r.Total)
	if r.NoText > 0 {
		fmt.Fprintf(w, "%d points have no stored text (payload \"text\") and no %s vector: re-ingest their documents\n", r.NoText, r.Signal)
	}
	if r.Empty > 0 {
		fmt.Fprintf(w, "%d points got an empty %s vector (nothing stored, as ingestion stores none)\n", r.Empty, r.Signal)
	}
}
