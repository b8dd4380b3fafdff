package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/spladeq/spladeq/plugin/ingest"
)

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newIngestCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "ingest --config job.yaml [--restart] [--shard I/N]", Short: "run an ingestion job (--config job.yaml)", Long: "Reads ingest.source, chunks, vectorizes and upserts into collection.name.\nResumable: after a crash or Ctrl-C, the same command continues from the last acknowledged batch."}
	fs := cmd.Flags()
	file, keys := configFlags(fs)
	restart := fs.Bool("restart", false, "ignore the checkpoint and start from the first record")
	shardFlag := fs.String("shard", "", "I/N: write only this worker's share (0 <= I < N) of the source, by document id hash, with its own checkpoint and dead letter; I may name an environment variable holding the index (JOB_COMPLETION_INDEX/3 in a Kubernetes Indexed Job)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
		var shard ingest.Shard
		if *shardFlag != "" {
			var err error
			if shard, err = ingest.ParseShard(*shardFlag); err != nil {
				return fmt.Errorf("--shard: %w", err)
			}
		}
		svc, cfg, log, err := openService(ctx, fs, *file, keys, stderr)
		if err != nil {
			return err
		}
		defer svc.Close()
		if cfg.Ingest.Source.Type == "" {
			return errors.New("ingest.source.type is not set: name a jsonl, csv or dir source in the config file")
		}
		job := ingestJob(svc, cfg, *restart, log, stderr)
		job.Shard = shard
		sum, err := job.Run(ctx)
		printSummary(stdout, sum)
		return err
	}
	return cmd
}

func printSummary(w io.Writer, s ingest.Summary) {
	state := "complete"
	if !s.Complete {
		state = "stopped"
	}
	secs := s.Duration.Seconds()
	fmt.Fprintf(w, "ingest %s in %v: %d records read", state, s.Duration.Round(time.Millisecond), s.Records)
	if s.Shard != "" {
		fmt.Fprintf(w, " by shard %s (%d left to the other shards)", s.Shard, s.Others)
	}
	if s.Skipped > 0 {
		fmt.Fprintf(w, " (%d skipped: done before the checkpoint)", s.Skipped)
	}
	fmt.Fprintf(w, "; %d documents written as %d chunks (all runs)", s.Documents, s.Chunks)
	if secs > 0 {
		fmt.Fprintf(w, "; %.1f records/s, %.0f tokens/s", float64(s.Records)/secs, float64(s.Tokens)/secs)
	}
	fmt.Fprintln(w)
	if s.Errors > 0 {
		fmt.Fprintf(w, "%d bad records written to %s\n", s.Errors, s.DeadLetter)
	}
}
