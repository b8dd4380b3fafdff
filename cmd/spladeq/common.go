package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/plugin/ingest"
	"github.com/spladeq/spladeq/splade"
	"github.com/spladeq/spladeq/splade/hfgraph"
)

// configFlags adds --config and the flags every config-driven command
// shares, and returns the flag → config key bindings.
func configFlags(fs *pflag.FlagSet) (*string, map[string]string) {
	file := fs.String("config", "", "YAML config file (default: spladeq.yaml in the working directory, if present)")
	fs.String("qdrant-url", "", "Qdrant: embedded://DIR or host:port (qdrant.url)")
	fs.String("collection", "", "collection name (collection.name)")
	fs.String("log-level", "", "debug, info, warn or error (log.level)")
	return file, map[string]string{"qdrant-url": "qdrant.url", "collection": "collection.name", "log-level": "log.level"}
}

func loadConfig(fs *pflag.FlagSet, file string, keys map[string]string) (*config.Config, error) {
	return config.Load(config.LoadOptions{File: file, Flags: fs, FlagKeys: keys})
}

// openService loads the configuration and opens the service with a logger
// on stderr.
func openService(ctx context.Context, fs *pflag.FlagSet, file string, keys map[string]string, stderr io.Writer) (*plugin.Service, *config.Config, *slog.Logger, error) {
	cfg, err := loadConfig(fs, file, keys)
	if err != nil {
		return nil, nil, nil, err
	}
	log := newLogger(cfg.Log, stderr)
	svc, err := plugin.New(ctx, cfg, plugin.WithLogger(log))
	if err != nil {
		return nil, nil, nil, err
	}
	return svc, cfg, log, nil
}

// ingestJob is the configured ingestion job, reporting on stderr.
func ingestJob(svc *plugin.Service, cfg *config.Config, restart bool, log *slog.Logger, stderr io.Writer) *ingest.Job {
	return &ingest.Job{Service: svc, Config: cfg.Ingest, Collection: cfg.Collection.Name, Restart: restart,
		Progress: stderr, Terminal: isTerminal(stderr), Log: log}
}

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.Level]
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// resolveModelFlag finds a --model directory as the vectorizers do (as
// given, under ./models, under the repository's .deps/models) and says on
// stderr which one it loads.
func resolveModelFlag(model string, stderr io.Writer) (string, error) {
	dir := plugin.ResolveModel(model, "models")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", &plugin.ModelNotFoundError{Model: model, Tried: plugin.ModelCandidates(model, "models")}
	}
	abs, _ := filepath.Abs(dir)
	fmt.Fprintf(stderr, "model: %s\n", abs)
	return dir, nil
}

// quantizeFlag adds --quantize, the arithmetic of the model's graph.
func quantizeFlag(fs *pflag.FlagSet) *string {
	return fs.String("quantize", "", "the model's arithmetic: fp32 or int8 (int8 runs DIR/model.int8.onnx, else builds the int8 graph from DIR's safetensors checkpoint); default fp32")
}

// quantizeOption is --quantize as an encoder option.
func quantizeOption(name string) (splade.Option, error) {
	q, err := hfgraph.ParseQuantization(name)
	if err != nil {
		return nil, fmt.Errorf("--quantize: %w", err)
	}
	return splade.WithQuantization(q), nil
}

// describeGraph says which graph an encoder runs and at what arithmetic:
// "DIR/model.int8.onnx (int8)", or "DIR/model.safetensors, built in memory
// (fp32)".
func describeGraph(info splade.Info) string {
	if info.ONNX != "" {
		return fmt.Sprintf("%s (%s)", info.ONNX, info.Quantization)
	}
	return fmt.Sprintf("%s, built in memory (%s)", info.Checkpoint, info.Quantization)
}
