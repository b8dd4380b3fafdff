package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
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
	cmd := &cobra.Command{Use: "ingest --config job.yaml [--dry-run] [--restart] [--shard I/N] [--watch]", Short: "run an ingestion job (--config job.yaml)",
		Long: "Reads ingest.source and brings collection.name in line with it: documents new or changed since the last run\n" +
			"are chunked, vectorized and upserted, unchanged ones are not encoded, and with ingest.sync the points of\n" +
			"documents gone from the source are deleted. Resumable: after a crash or Ctrl-C, the same command continues."}
	fs := cmd.Flags()
	file, keys := configFlags(fs)
	restart := fs.Bool("restart", false, "ignore an unfinished run's checkpoint and read the source from the first record")
	dryRun := fs.Bool("dry-run", false, "print what would be added (+), updated (~) and deleted (-), and write nothing")
	fs.Float64("max-delete", 0.5, "refuse a sync that would delete more than this fraction of the job's points; 1 allows any (ingest.max_delete)")
	keys["max-delete"] = "ingest.max_delete"
	watch := fs.Bool("watch", false, "keep running, one sync per cycle: a dir source when its files change (after ingest.watch_debounce of quiet) and every ingest.watch_interval, others every ingest.watch_interval; SIGTERM or Ctrl-C finishes the cycle in flight, a second one stops it (resumable)")
	metricsAddr := fs.String("metrics-listen", "", "with --watch: serve Prometheus metrics (GET /metrics: spladeq_ingest_*) on host:port")
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
			return errors.New("ingest.source.type is not set: name a jsonl, csv, dir, parquet or s3 source in the config file")
		}
		job := ingestJob(svc, cfg, *restart, log, stderr)
		job.Shard, job.DryRun, job.Plan = shard, *dryRun, stdout
		if *watch {
			if *dryRun {
				return usageError{errors.New("--watch and --dry-run: a dry run writes nothing, so there is nothing to keep in sync")}
			}
			return watchJob(ctx, job, *metricsAddr, log, stdout)
		}
		if *metricsAddr != "" {
			return usageError{errors.New("--metrics-listen needs --watch")}
		}
		sum, err := job.Run(ctx)
		printSummary(stdout, sum)
		return err
	}
	return cmd
}

// watchJob runs job.Watch until ctx ends (the first SIGTERM or Ctrl-C: the
// cycle in flight finishes) or a second signal (the cycle stops, resumable),
// printing each cycle's summary, logging it, and serving the metrics on
// addr when given.
func watchJob(ctx context.Context, job *ingest.Job, addr string, log *slog.Logger, stdout io.Writer) error {
	abort, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	go func() {
		for n := 0; ; n++ {
			select {
			case <-abort.Done():
				return
			case <-signals:
				if n == 0 {
					log.Info("stopping after the sync in flight (signal again to stop it now)")
				} else {
					cancel()
					return
				}
			}
		}
	}()
	if addr != "" {
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("--metrics-listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(job.Service.Metrics().Registry, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(lis)
		defer srv.Close()
		log.Info("serving metrics", "addr", lis.Addr().String())
	}
	return job.Watch(ctx, abort, func(sum ingest.Summary, err error) {
		printSummary(stdout, sum)
		attrs := []any{"job", sum.Job, "added", sum.Added, "updated", sum.Updated, "unchanged", sum.Unchanged,
			"deleted", sum.Deleted, "dead_lettered", sum.Errors, "duration", sum.Duration.Round(time.Millisecond)}
		if err != nil {
			log.Error("sync failed", append(attrs, "err", err)...)
			return
		}
		log.Info("sync", attrs...)
	})
}

// printSummary prints a run's one-line report (and where bad records went).
func printSummary(w io.Writer, s ingest.Summary) {
	fmt.Fprintln(w, summaryLine(s))
	if s.Errors > 0 && !s.DryRun {
		fmt.Fprintf(w, "%d bad records written to %s\n", s.Errors, s.DeadLetter)
	}
}

// summaryLine is a run's report: "ingest complete in 1.2s: 5 added, 2
// updated, 1190 unchanged, 3 deleted, 0 dead-lettered; ...".
func summaryLine(s ingest.Summary) string {
	var b strings.Builder
	state := "complete"
	switch {
	case s.DryRun:
		state = "dry run (nothing written)"
	case !s.Complete:
		state = "stopped"
	}
	fmt.Fprintf(&b, "ingest %s in %v: %d added, %d updated, %d unchanged, %d deleted, %d dead-lettered",
		state, s.Duration.Round(time.Millisecond), s.Added, s.Updated, s.Unchanged, s.Deleted, s.Errors)
	fmt.Fprintf(&b, "; %d records read", s.Records)
	if s.NotRead > 0 {
		fmt.Fprintf(&b, " (%d unchanged skipped unread)", s.NotRead)
	}
	if s.Shard != "" {
		fmt.Fprintf(&b, " by shard %s (%d left to the other shards)", s.Shard, s.Others)
	}
	if s.Skipped > 0 {
		fmt.Fprintf(&b, " (%d skipped: done before the checkpoint)", s.Skipped)
	}
	if !s.DryRun {
		fmt.Fprintf(&b, ", %d chunks written", s.Chunks)
	}
	if secs := s.Duration.Seconds(); secs > 0 && s.Tokens > 0 {
		fmt.Fprintf(&b, "; %.3g records/s, %.0f tokens/s", float64(s.Records)/secs, float64(s.Tokens)/secs)
	}
	return b.String()
}
