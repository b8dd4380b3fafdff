package integration

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/internal/qdranttest"
	"github.com/spladeq/spladeq/internal/testca"
	"github.com/spladeq/spladeq/internal/tlsreload"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/plugin/httpapi"
	"github.com/spladeq/spladeq/splade"
)

// serveTLS serves the service's HTTP API over TLS with the pair on a
// loopback port through httpapi.Serve, as `spladeq serve` with
// server.tls_cert_file does (server.http2 from the service's
// configuration), and returns host:port and the protocols the requests
// came in over, read from the server's request log.
func serveTLS(t *testing.T, svc *plugin.Service, certFile, keyFile string) (string, *protoLog) {
	t.Helper()
	r, err := tlsreload.New(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	protos := &protoLog{seen: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- httpapi.Serve(ctx, l, svc, slog.New(protos), r.Config()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return l.Addr().String(), protos
}

// protoLog is a slog handler that counts the server's request log lines
// by protocol ("HTTP/2.0", "HTTP/1.1").
type protoLog struct {
	mu   sync.Mutex
	seen map[string]int
}

func (p *protoLog) Enabled(context.Context, slog.Level) bool { return true }
func (p *protoLog) WithAttrs([]slog.Attr) slog.Handler       { return p }
func (p *protoLog) WithGroup(string) slog.Handler            { return p }

func (p *protoLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "request" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "proto" {
			p.mu.Lock()
			p.seen[a.Value.String()]++
			p.mu.Unlock()
		}
		return true
	})
	return nil
}

func (p *protoLog) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.seen {
		n += c
	}
	return n
}

func (p *protoLog) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprint(p.seen)
}

// upsertDocument stores one point whose sparse vector is a Document for
// spladeq/sparse, through Qdrant, and returns the vector Qdrant stored.
func upsertDocument(ctx context.Context, c *qc.Client, collection string, id uint64, text string) (splade.SparseVector, error) {
	wait := true
	_, err := c.Upsert(ctx, &qc.UpsertPoints{CollectionName: collection, Wait: &wait, Points: []*qc.PointStruct{{Id: qc.NewIDNum(id),
		Vectors: qc.NewVectorsMap(map[string]*qc.Vector{"splade": qc.NewVectorDocument(&qc.Document{Text: text, Model: "spladeq/sparse"})})}}})
	if err != nil {
		return splade.SparseVector{}, err
	}
	pts, err := c.Get(ctx, &qc.GetPoints{CollectionName: collection, Ids: []*qc.PointId{qc.NewIDNum(id)}, WithVectors: qc.NewWithVectors(true)})
	if err != nil {
		return splade.SparseVector{}, err
	}
	if len(pts) != 1 {
		return splade.SparseVector{}, fmt.Errorf("point %d: %d points back", id, len(pts))
	}
	return storedSparse(pts[0].GetVectors()), nil
}

func storedSparse(v *qc.VectorsOutput) splade.SparseVector {
	sv := v.GetVectors().GetVectors()["splade"].GetSparse()
	return splade.SparseVector{Indices: sv.GetIndices(), Values: sv.GetValues()}
}

func sparseCollection(t *testing.T, c *qc.Client, name string) {
	t.Helper()
	err := c.CreateCollection(context.Background(), &qc.CreateCollection{CollectionName: name,
		SparseVectorsConfig: qc.NewSparseVectorsConfig(map[string]*qc.SparseVectorParams{"splade": {}})})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRealQdrantTrustsATestCAForHTTPSInference points a real Qdrant's
// inference.address at spladeq's TLS listener (https://127.0.0.1:PORT),
// signed by a CA made here. Qdrant 1.17.1's inference client is reqwest
// 0.13 with rustls and rustls-platform-verifier, which on Linux reads the
// system store through openssl-probe: SSL_CERT_FILE or SSL_CERT_DIR in
// Qdrant's environment make it trust the CA. Without them the upsert
// fails and nothing is stored. SSL_CERT_FILE replaces the system bundle:
// give Qdrant a bundle with the system's roots and the CA when it must also
// reach public HTTPS endpoints.
func TestRealQdrantTrustsATestCAForHTTPSInference(t *testing.T) {
	svc, _ := inferenceService(t, nil)
	// server.http2: false, in a service of its own.
	svc1, _ := inferenceService(t, func(c *config.Config) { c.Server.HTTP2 = false })
	ca := testca.New(t, "spladeq inference test root")
	certFile, keyFile := ca.Issue(t, "spladeq").Write(t, t.TempDir())
	addr, protos := serveTLS(t, svc, certFile, keyFile)
	address := "https://" + addr + "/v1/qdrant/inference"
	addr1, protos1 := serveTLS(t, svc1, certFile, keyFile)
	caDir := t.TempDir()
	caFile := ca.WriteCert(t, caDir, "ca.pem")
	// An SSL_CERT_DIR holds certificates under their subject hash
	// (`openssl rehash`); openssl-probe also reads any PEM bundle there.
	hashDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(hashDir, "spladeq-test-ca.pem"), ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	texts := []string{"Tea is an aromatic beverage prepared by pouring hot water over cured leaves.",
		"Mars is the fourth planet from the Sun, often called the Red Planet."}
	want, err := svc.Encode(context.Background(), plugin.EncodeInput{Texts: texts, Dense: "none"})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		env   []string
		trust bool
		http1 bool // the server offers HTTP/1.1 only (server.http2: false)
	}{
		{"SSL_CERT_FILE names the CA", []string{"SSL_CERT_FILE=" + caFile}, true, false},
		{"SSL_CERT_FILE names the CA, the server offers HTTP/1.1 only", []string{"SSL_CERT_FILE=" + caFile}, true, true},
		{"SSL_CERT_DIR holds the CA", []string{"SSL_CERT_DIR=" + hashDir, "SSL_CERT_FILE=" + filepath.Join(hashDir, "absent.pem")}, true, false},
		// The system's roots only. (With no root loadable at all, Qdrant
		// 1.17.1 panics at start: "No CA certificates were loaded from the
		// system".)
		{"only the system's roots", []string{"SSL_CERT_FILE=" + systemBundle, "SSL_CERT_DIR=" + filepath.Dir(systemBundle)}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.trust {
				if _, err := os.Stat(systemBundle); err != nil {
					t.Skip("no system CA bundle: Qdrant would not start")
				}
			}
			addr, seen, proto := address, protos, "HTTP/2.0"
			if tc.http1 {
				addr, seen, proto = "https://"+addr1+"/v1/qdrant/inference", protos1, "HTTP/1.1"
			}
			node := qdranttest.Start(t, qdranttest.Options{InferenceAddress: addr, InferenceToken: inferenceToken, Env: tc.env})
			c, err := rawClient(node.GRPCAddr(), "")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sparseCollection(t, c, "tls")
			ctx := context.Background()
			for i, text := range texts {
				got, err := upsertDocument(ctx, c, "tls", uint64(i+1), text)
				if !tc.trust {
					if err == nil {
						t.Fatal("Qdrant stored a Document vectorized over TLS it should not trust")
					}
					if n, cerr := c.Count(ctx, &qc.CountPoints{CollectionName: "tls"}); cerr != nil || n != 0 {
						t.Errorf("after the refused upsert: %d points (%v), want 0", n, cerr)
					}
					t.Logf("Qdrant's answer without the CA: %v", err)
					return
				}
				if err != nil {
					t.Fatalf("upsert over https inference: %v\nqdrant log:\n%s", err, tail(node.Log()))
				}
				sameSparse(t, fmt.Sprintf("point %d via Qdrant over TLS", i+1), got, want[i].Sparse.SparseVector)
			}
			// Qdrant's client speaks HTTP/2 when offered (one connection per
			// node), HTTP/1.1 otherwise.
			if got := seen.String(); got != fmt.Sprintf("map[%s:%d]", proto, seen.total()) || seen.total() == 0 {
				t.Errorf("inference requests by protocol %s, want all %s", got, proto)
			}
		})
	}
}

// systemBundle is Debian's CA bundle (the Qdrant image is Debian).
const systemBundle = "/etc/ssl/certs/ca-certificates.crt"

func tail(s string) string {
	if lines := strings.Split(s, "\n"); len(lines) > 30 {
		return strings.Join(lines[len(lines)-30:], "\n")
	}
	return s
}
