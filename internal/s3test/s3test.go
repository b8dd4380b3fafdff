// Package s3test starts a real S3-compatible server for tests: versitygw
// serving a temporary directory, on a free loopback port, with one access
// key. scripts/s3server.sh (run by `make test`) builds it into
// .deps/s3server; $SPLADEQ_S3SERVER names another binary. Without one,
// Start skips the test saying how to get it (fails it when CI is set).
package s3test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3api "github.com/aws/aws-sdk-go-v2/service/s3"
)

// The server's one account.
const (
	AccessKey = "AKIASPLADEQTEST00001"
	SecretKey = "spladeq-test-secret-key-0123456789abcdef"
)

// Binary returns the server binary tests should start, or "" and why
// there is none.
func Binary() (string, string) {
	if p := os.Getenv("SPLADEQ_S3SERVER"); p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return "", fmt.Sprintf("SPLADEQ_S3SERVER=%s is not a file", p)
		}
		return p, ""
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", ".deps", "s3server", "versitygw")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Sprintf("no S3 server at %s: run `bash scripts/s3server.sh` (make test does), or set SPLADEQ_S3SERVER to a versitygw binary", filepath.Clean(p))
	}
	return filepath.Clean(p), ""
}

// Server is a running versitygw.
type Server struct {
	// Endpoint is the server's base URL.
	Endpoint string
	// Dir holds the buckets, one directory each.
	Dir string

	cmd  *exec.Cmd
	log  *bytes.Buffer
	mu   sync.Mutex
	done chan struct{}
}

// Start starts a server with an empty root; it is stopped when the test
// ends. The test is skipped when there is no binary, and fails when CI is
// set (CI runs make test, which builds it).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, why := Binary()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and there is no S3 server for the real-S3 test: %s", why)
		}
		t.Skipf("skipping the real-S3 test: %s", why)
	}
	dir := t.TempDir()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var s *Server
		s, err = launch(bin, dir)
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatal(err)
	return nil
}

func launch(bin, dir string) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	s := &Server{Endpoint: "http://" + addr, Dir: dir, log: &bytes.Buffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "--access", AccessKey, "--secret", SecretKey, "--port", addr, "--quiet", "posix", dir)
	s.cmd.Stdout, s.cmd.Stderr = (*lockedWriter)(s), (*lockedWriter)(s)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("versitygw exited: %s", s.Log())
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("versitygw not listening on %s after 30 s: %s", addr, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s, nil
}

type lockedWriter Server

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log.Write(p)
}

// Log is what the server printed.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Stop stops the server.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Client is an S3 client of the server's account (path-style), for a test
// to create buckets and objects with.
func (s *Server) Client() *s3api.Client {
	return s3api.New(s3api.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
}

// Isolate points the AWS SDK of this test process away from the machine's
// own AWS configuration (files, profile, instance metadata) and sets the
// server's keys in the standard environment variables, as a user would.
func Isolate(t testing.TB) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, k := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
}

// Bucket creates a bucket.
func (s *Server) Bucket(t testing.TB, name string) {
	t.Helper()
	if _, err := s.Client().CreateBucket(context.Background(), &s3api.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

// Put writes objects (key → content), several at a time.
func (s *Server) Put(t testing.TB, bucket string, objects map[string][]byte) {
	t.Helper()
	c := s.Client()
	keys := make(chan string)
	errs := make(chan error, len(objects))
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				_, err := c.PutObject(context.Background(), &s3api.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(objects[k])})
				if err != nil {
					errs <- fmt.Errorf("put %s: %w", k, err)
				}
			}
		}()
	}
	for k := range objects {
		keys <- k
	}
	close(keys)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Delete removes objects.
func (s *Server) Delete(t testing.TB, bucket string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, err := s.Client().DeleteObject(context.Background(), &s3api.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
			t.Fatalf("delete %s: %v", k, err)
		}
	}
}

// IsListing reports whether r is a ListObjectsV2 request (for a fault
// proxy's decision).
func IsListing(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2"
}

// IsGet reports whether r fetches an object of bucket (a GET of
// /bucket/key).
func IsGet(r *http.Request, bucket string) bool {
	return r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/"+bucket+"/") && len(r.URL.Path) > len(bucket)+2
}
