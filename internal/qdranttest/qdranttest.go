// Package qdranttest starts real Qdrant servers for tests: a single node or
// a cluster on loopback, each node with free ports and a temporary storage
// directory, configured by environment only (Qdrant's QDRANT__SECTION__KEY
// convention), as docker-compose.yml configures the one it runs.
//
// Tests run against every release in Versions (ForEachVersion runs a
// subtest per release). A release's binary is a test tool, never part of
// the build: the file its environment variable names (QDRANT_BIN for
// 1.17.1, QDRANT_BIN_1_19 for 1.19.0: BinaryEnv), else the copy beside the
// repository (../shared/qdrant/bin/qdrant, ../shared/qdrant/v1.19.0/bin/qdrant:
// DefaultPath). Each binary's `--version` must name the release it stands
// for: a missing binary skips the test saying what to provide, a binary of
// another release fails it.
package qdranttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startDir is the working directory when the test binary started (its
// package directory), before any test changed it.
var startDir, _ = os.Getwd()

// repoRoot is the directory holding go.mod, found upwards from startDir.
func repoRoot() (string, error) {
	dir := startDir
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Options configure the servers a test starts. The zero value is a plain
// node of Versions[0] with no inference backend; Env adds any other
// QDRANT__ setting.
type Options struct {
	// Version is the Qdrant release to start (one of Versions). Default
	// "": Versions[0].
	Version string
	// InferenceAddress is where the server sends Document objects for
	// embedding (QDRANT__INFERENCE__ADDRESS); empty leaves inference off.
	InferenceAddress string
	// InferenceToken is sent in the body of every inference call.
	InferenceToken string
	// Env adds QDRANT__... settings.
	Env []string
}

// Node is one running Qdrant process. Its ports and storage survive Kill
// and Restart, as a real node's would.
type Node struct {
	HTTPPort, GRPCPort, P2PPort int
	Dir                         string
	// Version is the Qdrant release the node runs.
	Version string

	bin  string
	env  []string
	args []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *syncBuffer
}

// GRPCAddr is host:port of the node's gRPC API.
func (n *Node) GRPCAddr() string { return "127.0.0.1:" + strconv.Itoa(n.GRPCPort) }

// HTTPURL is the base URL of the node's REST API.
func (n *Node) HTTPURL() string { return "http://127.0.0.1:" + strconv.Itoa(n.HTTPPort) }

// Log returns what the node has printed so far.
func (n *Node) Log() string { return n.log.String() }

// Start starts one node of opts.Version and waits until it is ready; it is
// stopped when the test ends. The test is skipped when there is no binary
// of that release and fails when the binary is another (Need).
func Start(t testing.TB, opts Options) *Node {
	t.Helper()
	version := opts.version()
	n, err := launch(Need(t, version), version, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

// StartVersion is Start of version.
func StartVersion(t testing.TB, version string, opts Options) *Node {
	t.Helper()
	opts.Version = version
	return Start(t, opts)
}

func (o Options) version() string {
	if o.Version == "" {
		return Versions[0]
	}
	return o.Version
}

// Launch starts one node of opts.Version from bin (Lookup finds it) with
// storage under dir and waits until it is ready; the caller stops it. The
// node must say it is that release. For a server whose life is not one
// test's (Shared keeps one per release).
func Launch(bin, dir string, opts Options) (*Node, error) {
	return launch(bin, opts.version(), dir, opts)
}

func launch(bin, version, dir string, opts Options) (*Node, error) {
	n, err := newNode(bin, version, dir, opts, false)
	if err != nil {
		return nil, err
	}
	if err := n.start(); err != nil {
		return nil, err
	}
	if err := n.waitReady(60 * time.Second); err != nil {
		n.Stop()
		return nil, err
	}
	if err := n.checkServes(version); err != nil {
		n.Stop()
		return nil, err
	}
	return n, nil
}

// StartCluster starts size nodes of opts.Version in distributed mode (the
// first with --uri, the others bootstrapping from it) and waits until
// every node is ready and sees all peers. The test is skipped or failed
// as by Need.
func StartCluster(t testing.TB, size int, opts Options) []*Node {
	t.Helper()
	version := opts.version()
	bin := Need(t, version)
	nodes := make([]*Node, size)
	for i := range nodes {
		n, err := newNode(bin, version, t.TempDir(), opts, true)
		if err != nil {
			t.Fatal(err)
		}
		n.args = []string{"--uri", fmt.Sprintf("http://127.0.0.1:%d", n.P2PPort)}
		if i > 0 {
			n.args = append([]string{"--bootstrap", fmt.Sprintf("http://127.0.0.1:%d", nodes[0].P2PPort)}, n.args...)
		}
		nodes[i] = n
		if err := n.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Stop)
		if err := n.waitReady(60 * time.Second); err != nil {
			t.Fatal(err)
		}
		if err := n.checkServes(version); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range nodes {
		for {
			peers, err := n.peers()
			if err == nil && peers == size {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("qdrant node %d sees %d peers (err %v), want %d; log:\n%s", n.HTTPPort, peers, err, size, tail(n.Log()))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nodes
}

func newNode(bin, version, dir string, opts Options, cluster bool) (*Node, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	n := &Node{HTTPPort: ports[0], GRPCPort: ports[1], P2PPort: ports[2], Dir: dir, Version: version, bin: bin, log: &syncBuffer{}}
	n.env = nodeEnv(n.HTTPPort, n.GRPCPort, n.P2PPort, dir, opts, cluster)
	return n, nil
}

func (n *Node) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	cmd := exec.Command(n.bin, n.args...)
	// Qdrant looks for config/ and static/ in its working directory.
	cmd.Dir = n.Dir
	cmd.Env = append(os.Environ(), n.env...)
	cmd.Stdout, cmd.Stderr = n.log, n.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start qdrant: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	n.cmd, n.done = cmd, done
	return nil
}

// waitReady waits until /readyz answers 200 and the gRPC port accepts
// connections: Qdrant starts its REST and gRPC servers on separate threads,
// and on a loaded machine /readyz can answer before gRPC listens.
func (n *Node) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(n.HTTPURL() + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				var c net.Conn
				if c, err = net.DialTimeout("tcp", n.GRPCAddr(), time.Second); err == nil {
					c.Close()
					return nil
				}
				err = fmt.Errorf("REST ready, gRPC not listening: %w", err)
			}
		}
		select {
		case <-n.done:
			return fmt.Errorf("qdrant exited before it was ready; log:\n%s", tail(n.Log()))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("qdrant not ready after %v (last error %v); log:\n%s", timeout, err, tail(n.Log()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill ends the process with SIGKILL, as a crash would.
func (n *Node) Kill() { n.signal(syscall.SIGKILL) }

// Stop ends the process with SIGTERM (SIGKILL after 10 s).
func (n *Node) Stop() { n.signal(syscall.SIGTERM) }

func (n *Node) signal(sig syscall.Signal) {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// Restart starts the node again on its ports and storage and waits until
// it is ready.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	n.Stop()
	if len(n.args) > 0 && n.args[0] == "--bootstrap" {
		// A restarted peer knows the cluster from its raft state.
		n.args = n.args[2:]
	}
	if err := n.start(); err != nil {
		t.Fatal(err)
	}
	if err := n.waitReady(60 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// WaitIdle waits until collection's status is green and its optimizers
// are idle (Qdrant indexes and merges segments in the background after
// upserts: a benchmark timed before that measures both at once), or until
// timeout.
func (n *Node) WaitIdle(collection string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.HTTPURL()+"/collections/"+collection, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var info struct {
				Result struct {
					Status          string          `json:"status"`
					OptimizerStatus json.RawMessage `json:"optimizer_status"`
				} `json:"result"`
			}
			err = json.NewDecoder(resp.Body).Decode(&info)
			resp.Body.Close()
			last = info.Result.Status + " " + string(info.Result.OptimizerStatus)
			if err == nil && info.Result.Status == "green" && string(info.Result.OptimizerStatus) == `"ok"` {
				cancel()
				return nil
			}
		}
		cancel()
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("collection %s not idle after %v (last: %s)", collection, timeout, last)
}

// peers is how many peers the node's cluster view holds.
func (n *Node) peers() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.HTTPURL()+"/cluster", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var info struct {
		Result struct {
			Peers map[string]json.RawMessage `json:"peers"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return 0, err
	}
	return len(info.Result.Peers), nil
}

func freePorts(k int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range k {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// nodeEnv is a node's whole configuration, Qdrant's QDRANT__SECTION__KEY
// environment variables; docker-compose.yml sets the same keys.
func nodeEnv(httpPort, grpcPort, p2pPort int, dir string, opts Options, cluster bool) []string {
	var env []string
	env = append(env,
		"QDRANT__SERVICE__HOST=127.0.0.1",
		"QDRANT__SERVICE__HTTP_PORT="+strconv.Itoa(httpPort),
		"QDRANT__SERVICE__GRPC_PORT="+strconv.Itoa(grpcPort),
		"QDRANT__STORAGE__STORAGE_PATH="+filepath.Join(dir, "storage"),
		"QDRANT__STORAGE__SNAPSHOTS_PATH="+filepath.Join(dir, "snapshots"),
		"QDRANT__TELEMETRY_DISABLED=true",
		"QDRANT__LOG_LEVEL=WARN",
	)
	if cluster {
		env = append(env, "QDRANT__CLUSTER__ENABLED=true",
			"QDRANT__CLUSTER__P2P__PORT="+strconv.Itoa(p2pPort))
	}
	if opts.InferenceAddress != "" {
		env = append(env, "QDRANT__INFERENCE__ADDRESS="+opts.InferenceAddress)
	}
	if opts.InferenceToken != "" {
		env = append(env, "QDRANT__INFERENCE__TOKEN="+opts.InferenceToken)
	}
	return append(env, opts.Env...)
}

// EnvKeys lists the QDRANT__ settings a started node gets, for checking a
// deployment (docker-compose.yml) configures the server the tests test.
func EnvKeys(opts Options, cluster bool) []string {
	var keys []string
	for _, kv := range nodeEnv(1, 2, 3, "/", opts, cluster) {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	return keys
}
