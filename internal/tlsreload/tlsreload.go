// Package tlsreload serves a TLS certificate pair from files and re-reads
// it when the files change, so a rotated certificate (a cert-manager
// renewal, a Kubernetes Secret update, a cron job's `mv`) is used by the
// next handshake without a restart. It is pure Go (no cgo), shared by every
// listener spladeq serves: the HTTP API and the embedded store's gRPC port.
package tlsreload

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// Reloader holds the current certificate of a cert/key file pair. Its
// GetCertificate stats both files on every handshake (two stat calls, no
// read) and reloads the pair when either changed; a pair that fails to
// load (a half-finished rotation: the new certificate beside the old key)
// leaves the previous certificate in use until the files agree again.
type Reloader struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp
	lastErr error
	onError func(error)
}

// fileStamp identifies one version of a file: a rename over it changes
// the inode, an in-place write the modification time or size.
type fileStamp struct {
	mod   time.Time
	size  int64
	inode uint64
}

func stampOf(fi os.FileInfo) fileStamp {
	s := fileStamp{mod: fi.ModTime(), size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.inode = st.Ino
	}
	return s
}

// Option configures a Reloader.
type Option func(*Reloader)

// WithErrorHandler is called with every failed reload (the previous
// certificate stays in use). Default: none.
func WithErrorHandler(f func(error)) Option { return func(r *Reloader) { r.onError = f } }

// New loads the pair and fails when either file is unreadable or the two
// are not a valid certificate and matching private key.
func New(certFile, keyFile string, opts ...Option) (*Reloader, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("both a certificate file and a key file are needed")
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile}
	for _, o := range opts {
		o(r)
	}
	stamp, err := r.stat()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load %s and %s: %w", certFile, keyFile, err)
	}
	r.cert, r.stamp = &cert, stamp
	return r, nil
}

func (r *Reloader) stat() ([2]fileStamp, error) {
	var s [2]fileStamp
	for i, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return s, err
		}
		s[i] = stampOf(fi)
	}
	return s, nil
}

// GetCertificate is a tls.Config.GetCertificate: the current pair,
// reloaded first when a file changed since it was read.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamp, err := r.stat()
	if err == nil && stamp != r.stamp {
		var cert tls.Certificate
		if cert, err = tls.LoadX509KeyPair(r.certFile, r.keyFile); err == nil {
			r.cert, r.stamp, r.lastErr = &cert, stamp, nil
		}
	}
	if err != nil && (r.lastErr == nil || err.Error() != r.lastErr.Error()) {
		// Reported once per distinct failure, not once per handshake.
		r.lastErr = err
		if r.onError != nil {
			r.onError(fmt.Errorf("reload %s and %s (the previous certificate stays in use): %w", r.certFile, r.keyFile, err))
		}
	}
	return r.cert, nil
}

// Current returns the certificate in use, without checking the files.
func (r *Reloader) Current() *tls.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cert
}

// Config returns a server tls.Config (TLS 1.2 or later) that takes its
// certificate from r. Each listener gets its own copy; gRPC adds "h2" to
// its NextProtos, net/http does the same in ServeTLS.
func (r *Reloader) Config() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}
