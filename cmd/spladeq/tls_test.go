package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/api"
	spladeqclient "github.com/spladeq/spladeq/client"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/internal/testca"
	"github.com/spladeq/spladeq/splade"
)

const (
	testAPIKey         = "tls-test-api-key-0123456789"
	testInferenceToken = "tls-test-inference-token-0123"
)

// lockedBuffer is the serve command's stderr, read while it writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// served is a `spladeq serve` running in-process.
type served struct {
	httpAddr, grpcAddr string
	log                *lockedBuffer
	stop               func() int
}

// serveConfig writes a configuration with the fixture models, an embedded
// store and server settings (YAML flow-map entries).
func serveConfig(t *testing.T, server string) string {
	t.Helper()
	dir := t.TempDir()
	root, _ := filepath.Abs("../..")
	p := filepath.Join(dir, "spladeq.yaml")
	err := os.WriteFile(p, []byte(fmt.Sprintf(`
qdrant: {url: "embedded://%s"}
vectorizers:
  sparse: {module: splade, model: %q}
  dense: {module: onnx-dense, model: %q}
server: {listen: "127.0.0.1:0", qdrant_grpc_listen: "127.0.0.1:0", shutdown_timeout: 5s%s}
`, filepath.Join(dir, "store"), filepath.Join(root, "splade/testdata/models/bert-tiny"),
		filepath.Join(root, "plugin/testdata/models/dense-tiny"), server)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	servingRE = regexp.MustCompile(`msg=serving addr=(\S+)`)
	grpcRE    = regexp.MustCompile(`Qdrant gRPC API" addr=(\S+)`)
)

// startServe runs `spladeq serve --config cfg` until it says it serves.
func startServe(t *testing.T, cfg string) *served {
	t.Helper()
	t.Setenv(splade.RuntimeLibraryEnv, splade.RuntimeLibraryPath())
	ctx, cancel := context.WithCancel(context.Background())
	log := &lockedBuffer{}
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"serve", "--config", cfg}, strings.NewReader(""), io.Discard, log) }()
	s := &served{log: log}
	s.stop = func() int { cancel(); return <-code }
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if m := servingRE.FindStringSubmatch(log.String()); m != nil {
			s.httpAddr = m[1]
			if g := grpcRE.FindStringSubmatch(log.String()); g != nil {
				s.grpcAddr = g[1]
			}
			break
		}
		select {
		case c := <-code:
			t.Fatalf("serve exited with %d before serving:\n%s", c, log.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start in a minute:\n%s", log.String())
		}
	}
	t.Cleanup(func() { cancel() })
	return s
}

func caClient(ca *testca.CA) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}}
}

// peerName handshakes with addr (offering protos) and returns the common
// name of the certificate the server showed.
func peerName(t *testing.T, ca *testca.CA, addr string, protos ...string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), NextProtos: protos})
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// checkTLSVersions offers addr TLS 1.1 at most (refused: the listeners
// speak TLS 1.2 and later) and then TLS 1.2 at most (accepted).
func checkTLSVersions(t *testing.T, ca *testca.CA, addr string) {
	t.Helper()
	old := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	if c, err := tls.Dial("tcp", addr, old); err == nil {
		v := c.ConnectionState().Version
		c.Close()
		t.Errorf("%s accepted a client offering TLS 1.0-1.1 (negotiated %s)", addr, tls.VersionName(v))
	} else if !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("%s, offered TLS 1.0-1.1: %v; want a protocol version alert", addr, err)
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("%s, offered TLS 1.2: %v", addr, err)
	}
	defer c.Close()
	if v := c.ConnectionState().Version; v != tls.VersionTLS12 {
		t.Errorf("%s, offered TLS 1.2: negotiated %s", addr, tls.VersionName(v))
	}
}

func TestServeOverTLS(t *testing.T) {
	ca := testca.New(t, "spladeq test root")
	tlsDir := t.TempDir()
	certFile, keyFile := ca.Issue(t, "first").Write(t, tlsDir)
	caFile := ca.WriteCert(t, t.TempDir(), "ca.pem")
	s := startServe(t, serveConfig(t, fmt.Sprintf(`, tls_cert_file: %q, tls_key_file: %q, api_keys: [%q], inference_tokens: [%q]`,
		certFile, keyFile, testAPIKey, testInferenceToken)))
	if strings.Contains(s.log.String(), "level=WARN") {
		t.Errorf("a loopback listener with keys and TLS was warned about:\n%s", s.log.String())
	}
	base := "https://" + s.httpAddr
	client := caClient(ca)

	var viaHTTP splade.SparseVector
	t.Run("an HTTP client trusting the CA reads /readyz and encodes, over HTTP/2", func(t *testing.T) {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" {
			t.Errorf("GET /readyz: %d over %s, want 200 over HTTP/2.0", resp.StatusCode, resp.Proto)
		}
		req, _ := http.NewRequest("POST", base+"/v1/encode", strings.NewReader(`{"texts": ["sparse retrieval over tls"], "dense": "none"}`))
		req.Header.Set("X-API-Key", testAPIKey)
		resp, err = client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Results []struct{ Sparse splade.SparseVector } `json:"results"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || len(out.Results) != 1 {
			t.Fatalf("POST /v1/encode: %d, %v, %+v", resp.StatusCode, err, out)
		}
		viaHTTP = out.Results[0].Sparse
		if len(viaHTTP.Indices) == 0 {
			t.Fatal("empty sparse vector")
		}
	})

	t.Run("spladeq's Go client with the CA in its HTTPClient", func(t *testing.T) {
		c, err := spladeqclient.New(spladeqclient.Config{BaseURL: base, APIKey: testAPIKey, HTTPClient: caClient(ca)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Ready(context.Background()); err != nil {
			t.Fatalf("Ready: %v", err)
		}
		res, err := c.Encode(context.Background(), api.EncodeRequest{Texts: []string{"sparse retrieval over tls"}, Dense: "none"})
		if err != nil || len(res.Results) != 1 || res.Results[0].Sparse == nil {
			t.Fatalf("Encode: %+v, %v", res, err)
		}
		if got := fmt.Sprint(res.Results[0].Sparse.Indices); got != fmt.Sprint(viaHTTP.Indices) {
			t.Errorf("the client's vector %s, the plain http.Client's %v", got, viaHTTP.Indices)
		}
	})

	t.Run("TLS 1.1 is refused and TLS 1.2 accepted, on the HTTP and gRPC ports", func(t *testing.T) {
		checkTLSVersions(t, ca, s.httpAddr)
		checkTLSVersions(t, ca, s.grpcAddr)
	})

	t.Run("a client without the CA fails the handshake", func(t *testing.T) {
		_, err := http.Get(base + "/readyz")
		var unknown x509.UnknownAuthorityError
		if err == nil || !errors.As(err, &unknown) {
			t.Errorf("got %v, want an unknown-authority error", err)
		}
	})

	t.Run("plain HTTP on the TLS port is refused before any handler", func(t *testing.T) {
		resp, err := http.Get("http://" + s.httpAddr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTP request to an HTTPS server") {
			t.Errorf("got %d %q, want 400 saying it is an HTTPS server", resp.StatusCode, body)
		}
		req, _ := http.NewRequest("POST", "http://"+s.httpAddr+"/v1/qdrant/inference",
			strings.NewReader(`{"inputs": [{"data": "x", "data_type": "text", "model": "spladeq/sparse"}], "inference": "update", "token": "`+testInferenceToken+`"}`))
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(body), "embeddings") {
			t.Errorf("plain inference call: got %d %q, want 400 and no embeddings", resp.StatusCode, body)
		}
	})

	t.Run("spladeq health trusts --ca-file", func(t *testing.T) {
		if code, _, stderr := spladeq(t, "", "health", "--ca-file", caFile, base+"/readyz"); code != 0 {
			t.Errorf("with --ca-file: exit %d: %s", code, stderr)
		}
		if code, _, stderr := spladeq(t, "", "health", base+"/readyz"); code == 0 || !strings.Contains(stderr, "certificate") {
			t.Errorf("without --ca-file: exit %d, %q; want a certificate error", code, stderr)
		}
	})

	t.Run("the official go-client over TLS upserts a Document vectorized in-process", func(t *testing.T) {
		host, port, _ := net.SplitHostPort(s.grpcAddr)
		c, err := qc.NewClient(&qc.Config{Host: host, Port: atoi(port), APIKey: testAPIKey, UseTLS: true,
			TLSConfig: &tls.Config{RootCAs: ca.Pool()}, SkipCompatibilityCheck: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx := context.Background()
		err = c.CreateCollection(ctx, &qc.CreateCollection{CollectionName: "tls",
			SparseVectorsConfig: qc.NewSparseVectorsConfig(map[string]*qc.SparseVectorParams{"splade": {}})})
		if err != nil {
			t.Fatal(err)
		}
		wait := true
		_, err = c.Upsert(ctx, &qc.UpsertPoints{CollectionName: "tls", Wait: &wait, Points: []*qc.PointStruct{{Id: qc.NewIDNum(7),
			Vectors: qc.NewVectorsMap(map[string]*qc.Vector{"splade": qc.NewVectorDocument(&qc.Document{Text: "sparse retrieval over tls", Model: "spladeq/sparse"})})}}})
		if err != nil {
			t.Fatal(err)
		}
		pts, err := c.Get(ctx, &qc.GetPoints{CollectionName: "tls", Ids: []*qc.PointId{qc.NewIDNum(7)}, WithVectors: qc.NewWithVectors(true)})
		if err != nil || len(pts) != 1 {
			t.Fatalf("get: %v, %d points", err, len(pts))
		}
		sv := pts[0].GetVectors().GetVectors().GetVectors()["splade"].GetSparse()
		if sv == nil || fmt.Sprint(sv.GetIndices()) != fmt.Sprint(viaHTTP.Indices) {
			t.Errorf("stored indices %v, want those /v1/encode gave %v", sv.GetIndices(), viaHTTP.Indices)
		}
	})

	t.Run("a plaintext go-client is refused by the TLS gRPC port", func(t *testing.T) {
		host, port, _ := net.SplitHostPort(s.grpcAddr)
		c, err := qc.NewClient(&qc.Config{Host: host, Port: atoi(port), APIKey: testAPIKey, SkipCompatibilityCheck: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := c.ListCollections(ctx); err == nil {
			t.Error("a plaintext gRPC call succeeded on the TLS port")
		}
	})

	t.Run("spladeq's own connector reaches the port with qdrant.ca_cert_file", func(t *testing.T) {
		c, err := qdrant.Open(context.Background(), qdrant.Config{URL: "https://" + s.grpcAddr, APIKey: testAPIKey, CACertFile: caFile})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Ping(context.Background()); err != nil {
			t.Errorf("ping: %v", err)
		}
	})

	t.Run("a rotated certificate is shown by the next handshake on both ports", func(t *testing.T) {
		if got := peerName(t, ca, s.httpAddr); got != "first" {
			t.Fatalf("before rotation the HTTP port shows %q", got)
		}
		ca.Issue(t, "second").Write(t, tlsDir)
		if got := peerName(t, ca, s.httpAddr, "h2", "http/1.1"); got != "second" {
			t.Errorf("HTTP port after rotation: got %q, want second", got)
		}
		if got := peerName(t, ca, s.grpcAddr, "h2"); got != "second" {
			t.Errorf("gRPC port after rotation: got %q, want second", got)
		}
		// A fresh client (new connections) still works end to end.
		resp, err := caClient(ca).Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.TLS.PeerCertificates[0].Subject.CommonName; got != "second" || resp.StatusCode != 200 {
			t.Errorf("after rotation: %d from %q", resp.StatusCode, got)
		}
	})

	if code := s.stop(); code != 0 {
		t.Errorf("serve exited %d:\n%s", code, s.log.String())
	}
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

// wildcardListener is bound to loopback but reports the wildcard address,
// as a bind to 0.0.0.0 would, so the WARN logic is tested without exposing
// a port.
type wildcardListener struct{ net.Listener }

func (l wildcardListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4zero, Port: l.Listener.Addr().(*net.TCPAddr).Port}
}

func TestServeWarnsForEveryListenerBeyondLoopback(t *testing.T) {
	ca := testca.New(t, "root")
	certFile, keyFile := ca.Issue(t, "leaf").Write(t, t.TempDir())
	tlsKeys := fmt.Sprintf(`, tls_cert_file: %q, tls_key_file: %q`, certFile, keyFile)
	for _, tc := range []struct {
		name, server string
		wildcard     bool
		want         []string // one WARN line each, in order, with these parts
	}{
		{"nothing set, bound to all interfaces", "", true, []string{
			`listener="HTTP API" addr=0.0.0.0:\d+ missing="API keys \(server.api_keys\)[^"]*; inference tokens \(server.inference_tokens\)[^"]*; TLS \(server.tls_cert_file, server.tls_key_file\)`,
			`listener="Qdrant gRPC API" addr=0.0.0.0:\d+ missing="API keys \(server.api_keys\)[^"]*; TLS \(server.tls_cert_file`,
		}},
		{"API keys only: the inference endpoint takes them too, TLS still missing", fmt.Sprintf(`, api_keys: [%q]`, testAPIKey), true, []string{
			`listener="HTTP API" addr=0.0.0.0:\d+ missing="TLS \(server.tls_cert_file, server.tls_key_file\)[^;]*"`,
			`listener="Qdrant gRPC API" addr=0.0.0.0:\d+ missing="TLS \(`,
		}},
		{"inference tokens and TLS, no API keys", fmt.Sprintf(`, inference_tokens: [%q]`, testInferenceToken) + tlsKeys, true, []string{
			`listener="HTTP API" addr=0.0.0.0:\d+ missing="API keys \(server.api_keys\)[^;]*"`,
			`listener="Qdrant gRPC API" addr=0.0.0.0:\d+ missing="API keys \(server.api_keys\)[^;]*"`,
		}},
		{"keys and TLS, bound to all interfaces", fmt.Sprintf(`, api_keys: [%q]`, testAPIKey) + tlsKeys, true, nil},
		{"nothing set, on loopback", "", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wildcard {
				listenTCP = func(network, _ string) (net.Listener, error) {
					l, err := net.Listen(network, "127.0.0.1:0")
					return wildcardListener{l}, err
				}
				defer func() { listenTCP = net.Listen }()
			}
			s := startServe(t, serveConfig(t, tc.server))
			s.stop()
			var warns []string
			for _, line := range strings.Split(s.log.String(), "\n") {
				if strings.Contains(line, "level=WARN") {
					warns = append(warns, line)
				}
			}
			if len(warns) != len(tc.want) {
				t.Fatalf("got %d WARN lines, want %d:\n%s", len(warns), len(tc.want), strings.Join(warns, "\n"))
			}
			for i, w := range tc.want {
				if !regexp.MustCompile(w).MatchString(warns[i]) {
					t.Errorf("WARN line %d:\n%s\ndoes not match %s", i, warns[i], w)
				}
			}
		})
	}
}

func TestServeRefusesABadTLSPairNamingTheKey(t *testing.T) {
	ca := testca.New(t, "root")
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, "a").Write(t, dir)
	other := filepath.Join(dir, "other-key.pem")
	os.WriteFile(other, ca.Issue(t, "b").KeyPEM, 0o600)
	for _, tc := range []struct{ name, server, want string }{
		{"a certificate without a key", fmt.Sprintf(`, tls_cert_file: %q`, certFile), "server.tls_key_file: must be set with server.tls_cert_file"},
		{"an unreadable key file", fmt.Sprintf(`, tls_cert_file: %q, tls_key_file: %q`, certFile, filepath.Join(dir, "absent.pem")), "server.tls_key_file: open "},
		{"an unreadable cert file", fmt.Sprintf(`, tls_cert_file: %q, tls_key_file: %q`, filepath.Join(dir, "absent.pem"), keyFile), "server.tls_cert_file: open "},
		{"a key of another certificate", fmt.Sprintf(`, tls_cert_file: %q, tls_key_file: %q`, certFile, other),
			"server.tls_cert_file, server.tls_key_file: not a certificate and its private key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(splade.RuntimeLibraryEnv, splade.RuntimeLibraryPath())
			code, _, stderr := spladeq(t, "", "serve", "--config", serveConfig(t, tc.server))
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, tc.want)
			}
		})
	}
}

func TestBeyondLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8080", false}, {"127.3.2.1:1", false}, {"[::1]:8080", false}, {"localhost:80", false},
		{"0.0.0.0:8080", true}, {"[::]:8080", true}, {"10.0.0.5:8080", true}, {"192.168.1.2:1", true}, {"[fe80::1]:1", true},
	} {
		if got := beyondLoopback(stringAddr(tc.addr)); got != tc.want {
			t.Errorf("beyondLoopback(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }

func TestMCPListenOverTLS(t *testing.T) {
	ca := testca.New(t, "root")
	certFile, keyFile := ca.Issue(t, "mcp").Write(t, t.TempDir())
	cfg := serveConfig(t, fmt.Sprintf(`, tls_cert_file: %q, tls_key_file: %q, api_keys: [%q]`, certFile, keyFile, testAPIKey))
	t.Setenv(splade.RuntimeLibraryEnv, splade.RuntimeLibraryPath())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &lockedBuffer{}
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"mcp", "--config", cfg, "--listen", "127.0.0.1:0"}, strings.NewReader(""), io.Discard, log)
	}()
	addrRE := regexp.MustCompile(`addr=https://(\S+)/mcp`)
	var addr string
	for i := 0; i < 3000 && addr == ""; i++ { // up to a minute
		if m := addrRE.FindStringSubmatch(log.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case c := <-code:
			t.Fatalf("mcp exited with %d:\n%s", c, log.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if addr == "" {
		t.Fatalf("mcp did not say it serves https:\n%s", log.String())
	}
	if got := peerName(t, ca, addr); got != "mcp" {
		t.Errorf("MCP port shows %q, want the configured certificate", got)
	}
	checkTLSVersions(t, ca, addr)
	resp, err := caClient(ca).Get("https://" + addr + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /mcp over TLS without a key: %d, want 401 from the MCP handler", resp.StatusCode)
	}
	resp, err = http.Get("http://" + addr + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS server") {
		t.Errorf("plain HTTP to the MCP port: %d %q, want 400", resp.StatusCode, body)
	}
	cancel()
	<-code
}

func TestServeHTTP2OffOffersHTTP1Only(t *testing.T) {
	ca := testca.New(t, "root")
	certFile, keyFile := ca.Issue(t, "leaf").Write(t, t.TempDir())
	for _, tc := range []struct {
		setting, want string
	}{{"", "HTTP/2.0"}, {", http2: false", "HTTP/1.1"}} {
		s := startServe(t, serveConfig(t, fmt.Sprintf(`, tls_cert_file: %q, tls_key_file: %q%s`, certFile, keyFile, tc.setting)))
		resp, err := caClient(ca).Get("https://" + s.httpAddr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Proto != tc.want {
			t.Errorf("server%q: a client offering h2 got %d over %s, want 200 over %s", tc.setting, resp.StatusCode, resp.Proto, tc.want)
		}
		s.stop()
	}
}
