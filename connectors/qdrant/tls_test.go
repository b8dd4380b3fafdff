package qdrant

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spladeq/spladeq/connectors/qdrant/embedded"
)

// testCA makes a CA and a server certificate for 127.0.0.1, returning the
// server's TLS config and the CA's PEM.
func testCA(t *testing.T) (*tls.Config, []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "spladeq test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

func TestTLSWithACertificateAuthorityAndAPIKey(t *testing.T) {
	noSleep(t)
	serverTLS, caPEM := testCA(t)
	store, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srv := embedded.NewServer(store, embedded.WithTLS(serverTLS), embedded.WithAPIKey("the-right-key"))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	defer srv.Stop()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, caPEM, 0o644)
	url := "https://" + lis.Addr().String()
	ctx := context.Background()

	t.Run("the configured CA and key connect", func(t *testing.T) {
		c, err := Open(ctx, Config{URL: url, CACertFile: caFile, APIKey: "the-right-key"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.EnsureCollection(ctx, CollectionSpec{Name: "tls", Sparse: &SparseSpec{}}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a server the CA did not sign is refused", func(t *testing.T) {
		c, err := Open(ctx, Config{URL: url, APIKey: "the-right-key", Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.Ping(ctx)
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("got %v, want a certificate error", err)
		}
	})
	t.Run("a wrong API key is unauthorized and not echoed", func(t *testing.T) {
		c, err := Open(ctx, Config{URL: url, CACertFile: caFile, APIKey: "a-wrong-key"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = c.Info(ctx, "tls")
		if !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), "a-wrong-key") {
			t.Errorf("got %v, want ErrUnauthorized without the key", err)
		}
	})
	t.Run("a CA file that is not PEM is a clear error", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.pem")
		os.WriteFile(bad, []byte("not a certificate"), 0o644)
		_, err := Open(ctx, Config{URL: url, CACertFile: bad})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "no PEM certificate") {
			t.Errorf("got %v", err)
		}
	})
}
