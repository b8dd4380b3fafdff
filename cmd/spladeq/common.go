package main

import (
	"io"
	"log/slog"

	"github.com/spf13/pflag"

	"github.com/spladeq/spladeq/config"
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

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.Level]
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
