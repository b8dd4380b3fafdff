package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spladeq/spladeq/api"
	"github.com/spladeq/spladeq/internal/retry"
)

// Config configures a Client. The zero value of every field means its
// default; Config{} talks to a local server without a key.
type Config struct {
	// BaseURL is the server's address: scheme, host, port and, behind a
	// proxy that mounts spladeq under a path, that path. Default
	// "http://localhost:8080" (spladeq serve's server.listen).
	BaseURL string
	// APIKey is sent as "Authorization: Bearer KEY": one of the server's
	// server.api_keys, or of server.read_only_api_keys for a client that
	// only searches and encodes. Default "": no key (a server without keys).
	APIKey string
	// HTTPClient sends the requests (a custom transport, TLS, a proxy).
	// Default: a client of its own over http.DefaultTransport.
	HTTPClient *http.Client
	// Timeout bounds each attempt, reading the answer included; a retry
	// gets a fresh one, and the context's deadline bounds them all.
	// Default 60s, longer than the server's default request_timeout (30s)
	// so that the server's own timeout answer arrives first; negative: no
	// timeout but the context's.
	Timeout time.Duration
	// Retries is how many times a call is retried after a 429, a 503 or a
	// failure to reach the server. Default 3; negative: never.
	Retries int
	// RetryBackoff is the wait before the first retry, doubled for each
	// retry after it, plus up to 40% of jitter; a longer Retry-After from
	// the server wins. Default 250ms.
	RetryBackoff time.Duration
	// UserAgent is the User-Agent header. Default "spladeq-go-client".
	UserAgent string
}

// DefaultBaseURL is the server Config.BaseURL defaults to.
const DefaultBaseURL = "http://localhost:8080"

// wait sleeps between attempts, never past ctx's deadline; tests replace
// it.
var wait = retry.Wait

// now is the clock a Retry-After date is read against; tests replace it.
var now = time.Now

// maxAnswerBytes bounds an answer read into memory (a search with payloads,
// an encode of many texts with dense vectors).
const maxAnswerBytes = 256 << 20

// Client calls one spladeq server. It is safe for concurrent use.
type Client struct {
	base      string
	key       string
	http      *http.Client
	timeout   time.Duration
	retries   int
	backoff   time.Duration
	userAgent string
}

// New checks cfg and returns a client; it does not contact the server
// (Ready does).
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	var errs []error
	u, err := url.Parse(cfg.BaseURL)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("base_url: %v", err))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("base_url: scheme must be http or https, got %q in %q", u.Scheme, cfg.BaseURL))
	case u.Host == "":
		errs = append(errs, fmt.Errorf("base_url: no host in %q", cfg.BaseURL))
	case u.RawQuery != "" || u.Fragment != "":
		errs = append(errs, fmt.Errorf("base_url: must not have a query or fragment, got %q", cfg.BaseURL))
	}
	if strings.ContainsAny(cfg.APIKey, "\r\n") {
		errs = append(errs, errors.New("api_key: must not contain a line break"))
	}
	if cfg.RetryBackoff < 0 {
		errs = append(errs, fmt.Errorf("retry_backoff: must be >= 0, got %v", cfg.RetryBackoff))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("spladeq client: %w", err)
	}
	c := &Client{base: strings.TrimRight(cfg.BaseURL, "/"), key: cfg.APIKey, http: cfg.HTTPClient,
		timeout: cfg.Timeout, retries: cfg.Retries, backoff: cfg.RetryBackoff, userAgent: cfg.UserAgent}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.timeout == 0 {
		c.timeout = 60 * time.Second
	}
	if c.retries == 0 {
		c.retries = 3
	}
	c.retries = max(c.retries, 0)
	if c.backoff == 0 {
		c.backoff = 250 * time.Millisecond
	}
	if c.userAgent == "" {
		c.userAgent = "spladeq-go-client"
	}
	return c, nil
}

// call is one request of the API.
type call struct {
	method, path string
	body         any // sent as JSON when not nil
	out          any // the success answer is decoded into it when not nil
	// probe is a health or readiness probe: never retried, and its 503
	// answer carries an api.Health body rather than an error body.
	probe bool
	// unsafe marks a request that is not idempotent: it is retried only
	// when the server says it did nothing and when to come back (a 429 or
	// 503 with Retry-After). Every route today is idempotent.
	unsafe bool
}

// do runs c with retries and returns nil or a *Error.
func (cl *Client) do(ctx context.Context, c call) error {
	op := c.method + " " + c.path
	var body []byte
	if c.body != nil {
		var err error
		if body, err = json.Marshal(c.body); err != nil {
			return &Error{Op: op, Code: api.CodeInvalidInput, Message: "request does not encode as JSON: " + err.Error(), Err: err}
		}
	}
	retries := cl.retries
	if c.probe {
		retries = 0
	}
	for attempt := 0; ; attempt++ {
		err, after, told := cl.once(ctx, op, c, body)
		if err == nil {
			return nil
		}
		if attempt >= retries || !retryable(err) || c.unsafe && !told {
			return err
		}
		if wait(ctx, retry.Delay(cl.backoff, attempt+1, after)) != nil {
			// The context ended, or the wait would outlast its deadline:
			// the server's last answer says more than the context does.
			return err
		}
	}
}

// retryable reports whether an attempt's error is worth another: a 429 or
// 503 answer, or no answer at all while the caller's context still runs.
// Every route is idempotent, so whether the failed attempt took effect
// does not matter.
func retryable(err *Error) bool {
	switch err.Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	case 0:
		return err.Err != nil && !errors.Is(err.Err, errCallerContext)
	}
	return false
}

// once sends one attempt; after is the answer's Retry-After, told whether
// it had one.
func (cl *Client) once(ctx context.Context, op string, c call, body []byte) (_ *Error, after time.Duration, told bool) {
	caller := ctx
	if cl.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, cl.timeout, fmt.Errorf("no answer within the client's %v timeout", cl.timeout))
		defer cancel()
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, cl.base+c.path, r)
	if err != nil {
		return &Error{Op: op, Code: api.CodeInvalidInput, Message: err.Error(), Err: err}, 0, false
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", cl.userAgent)
	if cl.key != "" {
		req.Header.Set("Authorization", "Bearer "+cl.key)
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return transportError(caller, ctx, op, err), 0, false
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return transportError(caller, ctx, op, fmt.Errorf("read the answer (HTTP %d): %w", resp.StatusCode, err)), 0, false
	}
	if len(data) > maxAnswerBytes {
		return &Error{Op: op, Status: resp.StatusCode, Message: fmt.Sprintf("answer is over %d bytes", maxAnswerBytes)}, 0, false
	}
	if resp.StatusCode/100 != 2 {
		after, told = retry.After(resp.Header.Get("Retry-After"), now())
		return answerError(op, resp.StatusCode, data, c.probe, c.out), after, told
	}
	if c.out == nil {
		return nil, 0, false
	}
	if raw, ok := c.out.(*[]byte); ok && json.Valid(data) {
		*raw = data // kept as it came (the OpenAPI document)
		return nil, 0, false
	}
	if err := json.Unmarshal(data, c.out); err != nil {
		return &Error{Op: op, Status: resp.StatusCode, Message: fmt.Sprintf("answer is not the API's JSON: %v: %s", err, excerpt(data))}, 0, false
	}
	return nil, 0, false
}

// transportError is an attempt that got no answer: the caller's context
// ended (not retried), the attempt's timeout passed, or the network failed.
func transportError(caller, attempt context.Context, op string, err error) *Error {
	switch {
	case caller.Err() != nil:
		return &Error{Op: op, Err: &callerContextError{err}}
	case attempt.Err() != nil:
		return &Error{Op: op, Err: fmt.Errorf("%w: %v", context.DeadlineExceeded, context.Cause(attempt))}
	}
	return &Error{Op: op, Err: err}
}

// answerError reads a non-2xx answer: the API's error body, a probe's
// api.Health, or anything else (a proxy's page) as the message.
func answerError(op string, status int, data []byte, probe bool, out any) *Error {
	e := &Error{Op: op, Status: status}
	var body api.ErrorResponse
	if json.Unmarshal(data, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message, e.Problems = body.Error.Code, body.Error.Message, body.Error.Problems
		return e
	}
	if probe {
		var h api.Health
		if json.Unmarshal(data, &h) == nil && h.Status != "" {
			if p, ok := out.(*api.Health); ok {
				*p = h
			}
			e.Message = h.Error
			return e
		}
	}
	e.Message = excerpt(data)
	return e
}

// excerpt is the start of a body, for a message.
func excerpt(data []byte) string {
	s := strings.TrimSpace(string(data))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
