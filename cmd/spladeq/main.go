// Command spladeq encodes text into SPLADE sparse vectors, stores them in
// Qdrant next to dense vectors, and serves hybrid search.
//
// The command tree is spf13/cobra (viper's companion): `spladeq --help`,
// `spladeq COMMAND --help`, `spladeq completion bash|zsh|fish|powershell`,
// `spladeq --version`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// errUsage marks an error already explained by the usage text.
var errUsage = errors.New("usage")

// usageError is a command line that does not parse: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// newRoot builds the command tree.
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "spladeq",
		Short: "SPLADE learned-sparse retrieval for Qdrant",
		Long: "spladeq encodes text into SPLADE sparse vectors, stores them in Qdrant next to dense vectors,\n" +
			"serves hybrid search and Qdrant's server-side inference, and runs ingestion jobs.",
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		c.PrintErrln(c.UsageString())
		return usageError{err}
	})
	root.AddCommand(newEncodeCmd(), newServeCmd(), newIngestCmd(), newSearchCmd(), newBenchCmd(), newEvalCmd(),
		newModelCmd(), newConfigCmd(), newDemoCmd(), newVersionCmd(), newHealthCmd(), newMCPCmd(), newCollectionCmd())
	for _, c := range root.Commands() {
		c.Flags().SortFlags = false
	}
	return root
}

// run runs the command line args and returns the exit status: 0, 1 for a
// failure, 2 for a command line that does not parse.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	var ue usageError
	switch {
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, &ue) || isArgsError(err):
		fmt.Fprintf(stderr, "spladeq %s: %v\n", cmd.Name(), err)
		return 2
	}
	fmt.Fprintf(stderr, "spladeq %s: %v\n", cmd.Name(), err)
	return 1
}

// isArgsError reports cobra's own command-line errors (unknown command,
// wrong number of arguments), which it returns as plain errors.
func isArgsError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "unknown flag", "unknown shorthand"} {
		if len(msg) >= len(p) && (msg[:len(p)] == p) {
			return true
		}
	}
	return false
}
