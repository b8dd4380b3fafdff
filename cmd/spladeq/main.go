// Command spladeq encodes text into SPLADE sparse vectors, stores them in
// Qdrant next to dense vectors, and serves hybrid search.
//
// Usage:
//
//	spladeq encode --model DIR [--query] [--max-length N] [--top-k N] [--min-weight W] [--terms N] [TEXT ...]
//	spladeq demo   [--model DIR] [--data DIR]
//	spladeq version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"encode":  {"encode texts into SPLADE vectors (JSON lines)", runEncode},
	"serve":   {"serve the HTTP API", runServe},
	"ingest":  {"run an ingestion job (--config job.yaml)", runIngest},
	"search":  {"search a collection and print ranked hits", runSearch},
	"bench":   {"measure encoder overhead vs the raw runtime, query latency and search latency", runBench},
	"eval":    {"evaluate retrieval quality on a BEIR dataset (--sweep tunes hybrid settings)", runEval},
	"model":   {"pull a model from a hub (model pull ORG/NAME), list pulled models (model ls)", runModel},
	"config":  {"print the effective configuration (config print)", runConfig},
	"demo":    {"ingest the sample corpus into the embedded store and run hybrid searches", runDemo},
	"version": {"print the version and the ONNX Runtime library", runVersion},
	"health":  {"GET a URL, fail unless 200 (container healthcheck)", runHealth},
}

// errUsage marks an error already explained by the usage text.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "spladeq: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(ctx, args[1:], stdin, stdout, stderr); err != nil {
		if errors.Is(err, errUsage) {
			return 2
		}
		fmt.Fprintf(stderr, "spladeq %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: spladeq COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun `spladeq COMMAND --help` for a command's flags.")
}
