package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spladeq/spladeq/api"
)

// Sentinel errors: every *Error matches exactly one with errors.Is.
var (
	// ErrInvalidInput is returned for a request the server refused as
	// malformed or invalid (400: codes invalid_input and invalid_json;
	// Error.Problems names each bad field), and for a call the client
	// refuses before sending it (an empty collection name or document id).
	ErrInvalidInput = errors.New("invalid input")
	// ErrUnauthorized is returned when the API key is missing or wrong
	// (401) or is read-only for a write (403).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound is returned for a collection, document or route that does
	// not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned by EnsureCollection when the collection
	// exists with other vectors than those asked for (409 schema_mismatch).
	ErrConflict = errors.New("conflict")
	// ErrTooLarge is returned for a body over the server's
	// server.max_body_bytes (413).
	ErrTooLarge = errors.New("request too large")
	// ErrOverloaded is returned when the server's encode queue stayed full
	// after every retry (429).
	ErrOverloaded = errors.New("server overloaded")
	// ErrUnavailable is returned when the server cannot be reached, or
	// answers 503 (its store is unavailable, or Ready: it is not ready),
	// after every retry.
	ErrUnavailable = errors.New("unavailable")
	// ErrTimeout is returned when the server gave up on the request after
	// its server.request_timeout (504).
	ErrTimeout = errors.New("server timeout")
	// ErrServer is returned for any other answer that is not a success
	// (500 and other statuses).
	ErrServer = errors.New("server error")
)

// Error is every error of a call: the operation, and either the server's
// answer (Status, Code, Message, Problems) or, with Status 0, the failure
// to get one (Err). It unwraps to one of the sentinels and to Err.
type Error struct {
	// Op is the request: "POST /v1/collections/docs/search".
	Op string
	// Status is the HTTP status; 0 when no answer came.
	Status int
	// Code is the API's error code (api.CodeNotFound, ...); "" when the
	// answer was not the API's error body (a proxy's page, say).
	Code string
	// Message is the server's message, or the start of a body that was not
	// the API's.
	Message string
	// Problems lists every bad field of an invalid_input or invalid_json
	// answer.
	Problems []api.Problem
	// Err is the cause when no answer came (network, timeout, context).
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("spladeq ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.Status == 0 {
		if e.Err != nil {
			b.WriteString(e.Err.Error())
		} else {
			b.WriteString(e.Message)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	for i, p := range e.Problems {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		b.WriteString(sep + p.Field)
		if p.ID != "" {
			fmt.Fprintf(&b, " (id %q)", p.ID)
		}
		b.WriteString(": " + p.Message)
	}
	return b.String()
}

// Unwrap returns the sentinel the error matches and, when no answer came,
// the cause (so errors.Is(err, context.DeadlineExceeded) works).
func (e *Error) Unwrap() []error {
	s := e.sentinel()
	if e.Err == nil {
		return []error{s}
	}
	if s == nil {
		return []error{e.Err}
	}
	return []error{s, e.Err}
}

func (e *Error) sentinel() error {
	switch e.Status {
	case 0:
		switch {
		case e.Code == api.CodeInvalidInput:
			return ErrInvalidInput
		case errors.Is(e.Err, errCallerContext):
			return nil // the caller cancelled or ran out of time: Err says which
		}
		return ErrUnavailable
	case http.StatusBadRequest:
		return ErrInvalidInput
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrUnauthorized
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrConflict
	case http.StatusRequestEntityTooLarge:
		return ErrTooLarge
	case http.StatusTooManyRequests:
		return ErrOverloaded
	case http.StatusServiceUnavailable:
		return ErrUnavailable
	case http.StatusGatewayTimeout:
		return ErrTimeout
	}
	return ErrServer
}

// errCallerContext marks a cause that is the caller's own context ending.
var errCallerContext = errors.New("the call's context ended")

// callerContextError is the caller's context ending: it matches
// context.Canceled or context.DeadlineExceeded, not ErrUnavailable.
type callerContextError struct{ err error }

func (c *callerContextError) Error() string   { return c.err.Error() }
func (c *callerContextError) Unwrap() []error { return []error{c.err, errCallerContext} }
