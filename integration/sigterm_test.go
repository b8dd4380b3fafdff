package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spladeq/spladeq/splade"
)

// serveProcess is a `spladeq serve` child process.
type serveProcess struct {
	cmd  *exec.Cmd
	addr string
	done chan error
	mu   sync.Mutex
	log  strings.Builder
}

func (p *serveProcess) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// fixtureServeConfig is a serve configuration with the fixture models on
// qdrantURL, extra being more server settings (YAML flow-map entries).
func fixtureServeConfig(t *testing.T, qdrantURL, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "serve.yaml")
	err := os.WriteFile(p, []byte(fmt.Sprintf(`
qdrant: {url: %q}
vectorizers:
  sparse: {module: splade, model: %q}
  dense: {module: onnx-dense, model: %q}
server: {listen: "127.0.0.1:0"%s}
`, qdrantURL, filepath.Join(repoRoot, fixtureSparseModel), filepath.Join(repoRoot, fixtureDenseModel), extra)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var servingAddr = regexp.MustCompile(`msg=serving addr=(\S+)`)

// startServeProcess starts the built binary with `serve --config cfg` and
// waits until it says where it serves; the process is killed when the test
// ends if it is still running.
func startServeProcess(t *testing.T, cfg string) *serveProcess {
	t.Helper()
	cmd := exec.Command(spladeqBinary(t), "serve", "--config", cfg)
	cmd.Env, cmd.Dir = append(os.Environ(), splade.RuntimeLibraryEnv+"="+splade.RuntimeLibraryPath()), t.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, done: make(chan error, 1)}
	go func() { err := cmd.Wait(); pw.Close(); p.done <- err }()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := servingAddr.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case p.addr = <-found:
		return p
	case err := <-p.done:
		t.Fatalf("serve exited before serving: %v\n%s", err, p.Log())
	case <-time.After(2 * time.Minute):
		t.Fatalf("serve did not start in 2 minutes:\n%s", p.Log())
	}
	return nil
}

// TestServeFinishesInFlightRequestsOnSIGTERM sends SIGTERM to a real
// `spladeq serve` while a request is inside its handler (the handler has
// asked for the body: "100 Continue" came back), then checks that new
// connections are refused, that the request, its body sent only after the
// signal, is answered 200 with its vectors, and that the process exits 0.
// Every wait is bounded by the server.shutdown_timeout the test configures
// (serve promises to be done with in-flight requests by then), not by a
// guess at how fast this machine is.
func TestServeFinishesInFlightRequestsOnSIGTERM(t *testing.T) {
	const shutdownTimeout = 60 * time.Second
	p := startServeProcess(t, fixtureServeConfig(t, "embedded://"+filepath.Join(t.TempDir(), "store"),
		fmt.Sprintf(", shutdown_timeout: %s", shutdownTimeout)))
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"texts": ["finished after the signal", "a second text"], "dense": "none"}`
	fmt.Fprintf(conn, "POST /v1/encode HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", p.addr, len(body))
	conn.SetDeadline(time.Now().Add(shutdownTimeout))
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, "100 Continue") {
		t.Fatalf("want 100 Continue once the handler reads the body, got %q, %v", status, err)
	}
	br.ReadString('\n') // the blank line after the interim response

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The in-flight request must be answered within the shutdown timeout
	// of the signal.
	conn.SetDeadline(time.Now().Add(shutdownTimeout))
	refused := false
	for deadline := time.Now().Add(shutdownTimeout); !refused && time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
	}
	if !refused {
		t.Errorf("new connections are still accepted %v (server.shutdown_timeout) after SIGTERM", shutdownTimeout)
	}

	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatalf("sending the body after SIGTERM: %v", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the in-flight request got no answer: %v\n%s", err, p.Log())
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Sparse *splade.SparseVector `json:"sparse"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || len(out.Results) != 2 ||
		out.Results[0].Sparse == nil || len(out.Results[0].Sparse.Indices) == 0 {
		t.Fatalf("in-flight request: %d, %v, %+v", resp.StatusCode, err, out)
	}
	// With nothing left in flight, serve's shutdown is over; what is left
	// is closing the models and the store.
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM:\n%s", err, p.Log())
		}
	case <-time.After(shutdownTimeout):
		t.Fatalf("serve still running %v (server.shutdown_timeout) after the in-flight request finished:\n%s", shutdownTimeout, p.Log())
	}
	if !strings.Contains(p.Log(), "shutting down") {
		t.Errorf("serve did not log its shutdown:\n%s", p.Log())
	}
}
