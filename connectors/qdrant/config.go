package qdrant

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/spladeq/spladeq/connectors/qdrant/embedded"
)

// EmbeddedScheme prefixes a Config.URL that names a directory for the
// in-process embedded store instead of a Qdrant server.
const EmbeddedScheme = "embedded://"

// DefaultURL is the store used when none is configured: the embedded store
// under ./data/qdrant.
const DefaultURL = EmbeddedScheme + "./data/qdrant"

// Config says where Qdrant is and how to talk to it. The zero value of every
// field means its documented default.
type Config struct {
	// URL is "embedded://DIR" for the in-process store in DIR, or a Qdrant
	// gRPC endpoint: "host", "host:port", "http://host:port" or
	// "https://host:port" (https turns TLS on). The gRPC port defaults to
	// 6334. Default DefaultURL.
	URL string
	// APIKey is sent as Qdrant's "api-key" header. Default: none.
	APIKey string
	// TLS turns on TLS for a server URL. Default false (true for https://).
	TLS bool
	// CACertFile is a PEM file of CAs to trust for TLS. Default: the system
	// pool.
	CACertFile string
	// Timeout bounds each attempt of each call. Default 30s.
	Timeout time.Duration
	// MaxMessageSize bounds a gRPC message in bytes, both ways. Default 64 MiB.
	MaxMessageSize int
	// Retries is how many times a call failing with a transient error
	// (Unavailable, ResourceExhausted, DeadlineExceeded, Aborted) is retried.
	// Default 5; negative means no retries.
	Retries int
	// RetryBackoff is the first retry's delay, doubled each retry up to 5s,
	// with jitter; ResourceExhausted's retry-after wins when longer.
	// Default 200ms.
	RetryBackoff time.Duration
	// BatchSize is the points per upsert request. Default 64.
	BatchSize int
	// Concurrency is the upsert requests in flight at once. Default 2.
	Concurrency int
	// NoWait asks Qdrant to acknowledge writes before applying them
	// (wait=false). Default false: writes are applied when acknowledged.
	NoWait bool
	// WriteOrdering is Qdrant's write ordering for upserts and deletes:
	// "weak", "medium" or "strong" (consistency across replicas at the cost
	// of latency). Default "": Qdrant's default, weak.
	WriteOrdering string
	// ReadConsistency is how many replicas a read (search, scroll, count)
	// waits for: "all", "majority", "quorum" or a number. Default "":
	// Qdrant's default, 1.
	ReadConsistency string
	// Inference vectorizes Documents that reach the embedded store's gRPC
	// API (upserted point vectors, nearest queries and prefetches). Only
	// for an embedded:// URL. Default nil: Documents are refused.
	Inference embedded.Inference
}

// writeOrdering is the request field for WriteOrdering; nil for the
// default.
func (c Config) writeOrdering() *qc.WriteOrdering {
	t, ok := writeOrderings[c.WriteOrdering]
	if !ok || c.WriteOrdering == "" {
		return nil
	}
	return &qc.WriteOrdering{Type: t}
}

var writeOrderings = map[string]qc.WriteOrderingType{"weak": qc.WriteOrderingType_Weak, "medium": qc.WriteOrderingType_Medium, "strong": qc.WriteOrderingType_Strong}

// readConsistency is the request field for ReadConsistency; nil for the
// default.
func (c Config) readConsistency() *qc.ReadConsistency {
	switch c.ReadConsistency {
	case "":
		return nil
	case "all":
		return qc.NewReadConsistencyType(qc.ReadConsistencyType_All)
	case "majority":
		return qc.NewReadConsistencyType(qc.ReadConsistencyType_Majority)
	case "quorum":
		return qc.NewReadConsistencyType(qc.ReadConsistencyType_Quorum)
	}
	n, _ := strconv.ParseUint(c.ReadConsistency, 10, 64)
	return qc.NewReadConsistencyFactor(n)
}

// endpoint is a parsed Config.URL.
type endpoint struct {
	embeddedDir string // set for embedded://
	host        string
	port        int
	tls         bool
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = 64 << 20
	}
	if c.Retries == 0 {
		c.Retries = 5
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 200 * time.Millisecond
	}
	if c.BatchSize == 0 {
		c.BatchSize = 64
	}
	if c.Concurrency == 0 {
		c.Concurrency = 2
	}
	return c
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if _, err := parseURL(c.withDefaults().URL, c.TLS); err != nil {
		errs = append(errs, err)
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: must be >= 0, got %v", c.Timeout))
	}
	if c.MaxMessageSize < 0 {
		errs = append(errs, fmt.Errorf("max_message_size: must be >= 0, got %d", c.MaxMessageSize))
	}
	if c.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("batch_size: must be >= 0, got %d", c.BatchSize))
	}
	if c.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("concurrency: must be >= 0, got %d", c.Concurrency))
	}
	if _, ok := writeOrderings[c.WriteOrdering]; !ok && c.WriteOrdering != "" {
		errs = append(errs, fmt.Errorf("write_ordering: must be weak, medium or strong, got %q", c.WriteOrdering))
	}
	switch c.ReadConsistency {
	case "", "all", "majority", "quorum":
	default:
		if n, err := strconv.ParseUint(c.ReadConsistency, 10, 64); err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("read_consistency: must be all, majority, quorum or a number >= 1, got %q", c.ReadConsistency))
		}
	}
	return errors.Join(errs...)
}

func parseURL(raw string, forceTLS bool) (endpoint, error) {
	if strings.HasPrefix(raw, EmbeddedScheme) {
		dir := strings.TrimPrefix(raw, EmbeddedScheme)
		if dir == "" {
			return endpoint{}, fmt.Errorf("url: %q names no directory (want embedded://DIR)", raw)
		}
		return endpoint{embeddedDir: dir}, nil
	}
	ep := endpoint{port: 6334, tls: forceTLS}
	hostport := raw
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			return endpoint{}, fmt.Errorf("url: %q: %v", raw, err)
		}
		switch u.Scheme {
		case "http", "grpc":
		case "https", "grpcs":
			ep.tls = true
		default:
			return endpoint{}, fmt.Errorf("url: %q: scheme %q is not one of embedded, http, https, grpc, grpcs", raw, u.Scheme)
		}
		if u.Path != "" && u.Path != "/" {
			return endpoint{}, fmt.Errorf("url: %q: a gRPC endpoint has no path", raw)
		}
		hostport = u.Host
	}
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		host, portStr = hostport, ""
	}
	if host == "" {
		return endpoint{}, fmt.Errorf("url: %q has no host", raw)
	}
	ep.host = host
	if portStr != "" {
		p, err := strconv.Atoi(portStr)
		if err != nil || p < 1 || p > 65535 {
			return endpoint{}, fmt.Errorf("url: %q: port must be 1..65535, got %q", raw, portStr)
		}
		ep.port = p
	}
	return ep, nil
}
