package tlsreload

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spladeq/spladeq/internal/testca"
)

// served starts a TLS listener on loopback using r and returns a function
// that handshakes with it and returns the common name the server showed.
func served(t *testing.T, r *Reloader, ca *testca.CA) func() string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", r.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	return func() string {
		t.Helper()
		c, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
}

func TestRotationIsSeenByTheNextHandshake(t *testing.T) {
	dir := t.TempDir()
	ca := testca.New(t, "root")
	certFile, keyFile := ca.Issue(t, "first").Write(t, dir)
	r, err := New(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	handshake := served(t, r, ca)
	if got := handshake(); got != "first" {
		t.Fatalf("before rotation: got %q, want first", got)
	}
	ca.Issue(t, "second").Write(t, dir)
	if got := handshake(); got != "second" {
		t.Fatalf("after rotation: got %q, want second", got)
	}
	// An in-place rewrite (same inode) is seen too.
	third := ca.Issue(t, "third")
	if err := os.WriteFile(certFile, third.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, third.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := handshake(); got != "third" {
		t.Fatalf("after in-place rewrite: got %q, want third", got)
	}
}

func TestHalfFinishedRotationKeepsThePreviousCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := testca.New(t, "root")
	certFile, keyFile := ca.Issue(t, "old").Write(t, dir)
	var mu sync.Mutex
	var reported []string
	r, err := New(certFile, keyFile, WithErrorHandler(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, err.Error())
	}))
	if err != nil {
		t.Fatal(err)
	}
	handshake := served(t, r, ca)
	next := ca.Issue(t, "new")
	// The new certificate lands before its key.
	if err := os.WriteFile(certFile, next.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if got := handshake(); got != "old" {
			t.Fatalf("handshake %d with mismatched files: got %q, want old", i, got)
		}
	}
	mu.Lock()
	if len(reported) != 1 || !strings.Contains(reported[0], "previous certificate stays in use") {
		t.Errorf("reported %q, want one error saying the previous certificate stays in use", reported)
	}
	mu.Unlock()
	if err := os.WriteFile(keyFile, next.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := handshake(); got != "new" {
		t.Fatalf("once the key landed: got %q, want new", got)
	}
}

func TestNewRejectsABadPair(t *testing.T) {
	dir := t.TempDir()
	ca := testca.New(t, "root")
	a, b := ca.Issue(t, "a"), ca.Issue(t, "b")
	aCert, aKey := a.Write(t, dir)
	other := filepath.Join(dir, "b-key.pem")
	if err := os.WriteFile(other, b.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"a missing key file", aCert, filepath.Join(dir, "absent.pem"), "absent.pem"},
		{"a missing cert file", filepath.Join(dir, "nope.pem"), aKey, "nope.pem"},
		{"a key of another certificate", aCert, other, "private key does not match"},
		{"the key given as the certificate", aKey, aKey, "load"},
		{"no key file named", aCert, "", "both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cert, tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
