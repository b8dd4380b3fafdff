package qdranttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Qdrant releases the real-server tests run against.
const (
	// V1_17 is Qdrant 1.17.1, the release spladeq was first tested with.
	V1_17 = "1.17.1"
	// V1_19 is Qdrant 1.19.0, the current release.
	V1_19 = "1.19.0"
)

// Versions are the releases every real-server test runs against, oldest
// first. Options.Version left empty means Versions[0].
var Versions = []string{V1_17, V1_19}

// Newest is the newest release in Versions.
func Newest() string { return Versions[len(Versions)-1] }

// BinaryEnv is the environment variable that names version's binary:
// QDRANT_BIN for 1.17.1 (the variable before there were two),
// QDRANT_BIN_<major>_<minor> for every other release (QDRANT_BIN_1_19).
// QDRANT_BIN_1_17 is accepted for 1.17.1 too.
func BinaryEnv(version string) string {
	if version == V1_17 {
		return "QDRANT_BIN"
	}
	return "QDRANT_BIN_" + strings.ReplaceAll(minor(version), ".", "_")
}

// minor is "1.19" of "1.19.0".
func minor(version string) string {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return version
	}
	return parts[0] + "." + parts[1]
}

// DefaultPath is where version's binary is looked for when its variable
// is unset: ../shared/qdrant/bin/qdrant beside the repository for 1.17.1,
// ../shared/qdrant/v<version>/bin/qdrant for the others.
func DefaultPath(version string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	shared := filepath.Join(filepath.Dir(root), "shared", "qdrant")
	if version == V1_17 {
		return filepath.Join(shared, "bin", "qdrant"), nil
	}
	return filepath.Join(shared, "v"+version, "bin", "qdrant"), nil
}

// Lookup finds version's binary and checks that its `--version` names that
// release. It returns the path; or "" and why there is none (a test skips,
// saying so); or an error when a binary is there but is another release or
// does not run (a test fails: it would test something else than it
// claims).
func Lookup(version string) (path, missing string, err error) {
	env := BinaryEnv(version)
	p := os.Getenv(env)
	if p == "" && version == V1_17 {
		if p = os.Getenv("QDRANT_BIN_1_17"); p != "" {
			env = "QDRANT_BIN_1_17"
		}
	}
	if p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			def, _ := DefaultPath(version)
			return "", "", fmt.Errorf("%s=%s is not a file: point it at a Qdrant %s binary, or unset it to use %s", env, p, version, def)
		}
	} else {
		def, err := DefaultPath(version)
		if err != nil {
			return "", "", err
		}
		if _, err := os.Stat(def); err != nil {
			return "", fmt.Sprintf("no Qdrant %s binary: set %s, or put one at %s", version, env, def), nil
		}
		p, env = def, ""
	}
	where := p
	if env != "" {
		where = env + "=" + p
	}
	got, err := binaryVersion(p)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", where, err)
	}
	if got != version {
		return "", "", fmt.Errorf("%s is Qdrant %s, not %s (its --version says so); point %s at a %s binary",
			where, got, version, BinaryEnv(version), version)
	}
	return p, "", nil
}

// versions caches what each binary's --version said.
var versions sync.Map // path → versionResult

type versionResult struct {
	version string
	err     error
}

// binaryVersion runs `bin --version`, which prints "qdrant 1.19.0".
func binaryVersion(bin string) (string, error) {
	if r, ok := versions.Load(bin); ok {
		r := r.(versionResult)
		return r.version, r.err
	}
	out, err := exec.Command(bin, "--version").Output()
	var r versionResult
	switch f := strings.Fields(string(out)); {
	case err != nil:
		r.err = fmt.Errorf("--version: %v", err)
	case len(f) != 2 || f[0] != "qdrant":
		r.err = fmt.Errorf("--version printed %q, want \"qdrant X.Y.Z\"", strings.TrimSpace(string(out)))
	default:
		r.version = f[1]
	}
	versions.Store(bin, r)
	return r.version, r.err
}

// Need returns version's binary, skipping the test when there is none
// (failing it when CI is set: a CI run must test every release) and
// failing it when the binary is another release.
func Need(t testing.TB, version string) string {
	t.Helper()
	bin, missing, err := Lookup(version)
	if err != nil {
		t.Fatal(err)
		return ""
	}
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set, so the Qdrant %s test must run: %s", version, missing)
			return ""
		}
		t.Skipf("skipping the Qdrant %s test: %s", version, missing)
	}
	return bin
}

// ForEachVersion runs fn as a subtest per release in Versions, oldest
// first, named "qdrant 1.17.1" and so on; a subtest whose binary is absent
// is skipped (Need), so fn can start servers of its version directly.
func ForEachVersion(t *testing.T, fn func(t *testing.T, version string)) {
	t.Helper()
	for _, v := range Versions {
		t.Run("qdrant "+v, func(t *testing.T) {
			Need(t, v)
			fn(t, v)
		})
	}
}

// shared are the nodes Shared started, one per release.
var shared struct {
	mu    sync.Mutex
	nodes map[string]*sharedNode
}

type sharedNode struct {
	node *Node
	dir  string
	err  error
}

// Shared returns a node of version started on first use and kept for the
// rest of the test binary, for tests that each use collections of their
// own (starting a node costs 1-3 s, more on a loaded machine). The test is
// skipped or failed as by Need. A package that uses it runs its tests
// through Main, which stops the nodes.
func Shared(t testing.TB, version string) *Node {
	t.Helper()
	bin := Need(t, version)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.nodes == nil {
		shared.nodes = map[string]*sharedNode{}
	}
	s, ok := shared.nodes[version]
	if !ok {
		s = &sharedNode{}
		shared.nodes[version] = s
		s.dir, s.err = os.MkdirTemp("", "spladeq-qdrant-"+version+"-")
		if s.err == nil {
			s.node, s.err = launch(bin, version, s.dir, Options{Version: version})
		}
	}
	if s.err != nil {
		t.Fatalf("shared Qdrant %s: %v", version, s.err)
	}
	return s.node
}

// StopShared stops the nodes Shared started and removes their storage.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for v, s := range shared.nodes {
		if s.node != nil {
			s.node.Stop()
		}
		if s.dir != "" {
			os.RemoveAll(s.dir)
		}
		delete(shared.nodes, v)
	}
}

// Main runs a package's tests and then stops the nodes Shared started:
// call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// checkServes checks that the running node answers GET / with version,
// as the clients' compatibility checks read it.
func (n *Node) checkServes(version string) error {
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(n.HTTPURL() + "/")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var root struct {
		Version string `json:"version"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&root); err != nil {
		return fmt.Errorf("GET /: %v", err)
	}
	if root.Version != version {
		return fmt.Errorf("the node says it is Qdrant %q, want %s", root.Version, version)
	}
	return nil
}
