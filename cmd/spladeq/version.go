package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spladeq/spladeq/splade"
)

// version is set at link time with -ldflags "-X main.version=…"; otherwise
// the module version from the build info is used.
var version = ""

func runVersion(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	v := version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	fmt.Fprintf(stdout, "spladeq %s\nonnxruntime library %s\n", v, splade.RuntimeLibraryPath())
	return nil
}
