package faultproxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
)

// HTTPFault is what happens to one HTTP request.
type HTTPFault int

// HTTP faults.
const (
	// Pass forwards the request.
	Pass HTTPFault = iota
	// SlowDown answers 503 with S3's SlowDown error (throttling), without
	// forwarding.
	SlowDown
	// InternalError answers 500 with S3's InternalError, without
	// forwarding.
	InternalError
	// Cut answers nothing: the connection is reset before a reply.
	Cut
	// Truncate forwards the request, sends the reply's headers and half
	// its body, then resets the connection: a download that breaks.
	Truncate
	numHTTPFaults
)

var httpNames = [...]string{"pass", "slow_down", "internal_error", "cut", "truncate"}

func (f HTTPFault) String() string { return httpNames[f] }

// HTTPProxy is a reverse proxy in front of an HTTP server (a real
// S3-compatible store in tests) that injects faults chosen per request. It
// keeps the request's Host header, so a signature made for the proxy's
// address is what the backend checks.
type HTTPProxy struct {
	// Decide picks the fault for a request; nil means Pass. It may be
	// replaced between requests with SetDecide.
	decide atomic.Pointer[func(*http.Request) HTTPFault]

	srv    *http.Server
	lis    net.Listener
	url    string
	counts [numHTTPFaults]atomic.Int64
	mu     sync.Mutex
	log    []string
}

// StartHTTP listens on 127.0.0.1 and forwards to backend (a base URL).
func StartHTTP(backend string, decide func(*http.Request) HTTPFault) (*HTTPProxy, error) {
	u, err := url.Parse(backend)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &HTTPProxy{lis: l, url: "http://" + l.Addr().String()}
	p.SetDecide(decide)
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fault := Pass
		if d := p.decide.Load(); d != nil && *d != nil {
			fault = (*d)(r)
		}
		p.counts[fault].Add(1)
		p.mu.Lock()
		p.log = append(p.log, fmt.Sprintf("%s %s?%s: %s", r.Method, r.URL.Path, r.URL.RawQuery, fault))
		p.mu.Unlock()
		switch fault {
		case SlowDown:
			s3Error(w, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
		case InternalError:
			s3Error(w, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
		case Cut:
			reset(w)
		case Truncate:
			p.truncate(w, r, u)
		default:
			rp.ServeHTTP(w, r)
		}
	})}
	go p.srv.Serve(l)
	return p, nil
}

// reset closes the client's connection with a TCP reset.
func reset(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// truncate forwards r, then sends the reply's headers and the first half
// of its body and resets the connection.
func (p *HTTPProxy) truncate(w http.ResponseWriter, r *http.Request, backend *url.URL) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = backend.Scheme, backend.Host
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		reset(w)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(resp.StatusCode)
	w.Write(body[:len(body)/2])
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	reset(w)
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Error><Code>%s</Code><Message>%s</Message><RequestId>faultproxy</RequestId></Error>`, code, msg)
}

// SetDecide replaces the fault chooser.
func (p *HTTPProxy) SetDecide(decide func(*http.Request) HTTPFault) { p.decide.Store(&decide) }

// URL is the proxy's base URL.
func (p *HTTPProxy) URL() string { return p.url }

// Count is how many requests saw fault f.
func (p *HTTPProxy) Count(f HTTPFault) int64 { return p.counts[f].Load() }

// Log lists the requests seen, "METHOD path?query: fault".
func (p *HTTPProxy) Log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

// Close stops the proxy.
func (p *HTTPProxy) Close() { p.srv.Close() }
