package splade

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// RuntimeLibraryEnv names the environment variable that overrides the path of
// the ONNX Runtime shared library.
const RuntimeLibraryEnv = "ONNXRUNTIME_LIB"

// ErrRuntime wraps every failure to load or initialise ONNX Runtime.
var ErrRuntime = errors.New("onnx runtime")

var ortState struct {
	mu   sync.Mutex
	path string // library the process environment was initialised with
}

// RuntimeLibraryPath returns the ONNX Runtime library used when none is given:
// $ONNXRUNTIME_LIB if set, else .deps/lib/libonnxruntime.so.1 in the nearest
// enclosing directory (of the working directory, then of the executable) that
// has one, else the bare soname for the system loader to find.
func RuntimeLibraryPath() string {
	if p := os.Getenv(RuntimeLibraryEnv); p != "" {
		return p
	}
	const rel = ".deps/lib/libonnxruntime.so.1"
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, rel)
			if _, err := os.Stat(p); err == nil {
				return p
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "libonnxruntime.so.1"
}

// initRuntime initialises the process-wide ONNX Runtime environment once. The
// environment lives as long as the process: tearing it down while another
// encoder may start is not worth the risk, and it holds no model memory.
func initRuntime(path string) error {
	ortState.mu.Lock()
	defer ortState.mu.Unlock()
	if path == "" {
		path = RuntimeLibraryPath()
	}
	if ort.IsInitialized() {
		if path != ortState.path {
			return fmt.Errorf("%w: already initialised with %s, cannot switch to %s", ErrRuntime, ortState.path, path)
		}
		return nil
	}
	if filepath.IsAbs(path) || filepath.Base(path) != path {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%w: library %s: %v (run `make setup`, or set %s)", ErrRuntime, path, err, RuntimeLibraryEnv)
		}
	}
	ort.SetSharedLibraryPath(path)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("%w: initialise with %s: %v", ErrRuntime, path, err)
	}
	ortState.path = path
	return nil
}

// RuntimeVersion returns the loaded ONNX Runtime version, or "" before any
// encoder was created.
func RuntimeVersion() string {
	ortState.mu.Lock()
	defer ortState.mu.Unlock()
	if !ort.IsInitialized() {
		return ""
	}
	return ort.GetVersion()
}
