package qdrant

import (
	"context"
	"errors"
	"fmt"
	"strings"

	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Sentinel errors; every error of this package matches one with errors.Is.
var (
	// ErrNotFound is returned for a collection (or point) that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid is returned for input refused before or by Qdrant: wrong
	// dense dimension, NaN or Inf, unsorted or duplicate sparse indices,
	// unknown vector names, bad filters.
	ErrInvalid = errors.New("invalid input")
	// ErrSchemaMismatch is returned by EnsureCollection when the collection
	// exists with other vectors than those asked for.
	ErrSchemaMismatch = errors.New("collection schema mismatch")
	// ErrUnavailable is returned when Qdrant cannot be reached or stayed
	// overloaded after every retry.
	ErrUnavailable = errors.New("qdrant unavailable")
	// ErrUnauthorized is returned when Qdrant refuses the API key.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrUnsupported is returned for an operation the Qdrant server does
	// not have (adding a vector to an existing collection before 1.18).
	ErrUnsupported = errors.New("not supported by this Qdrant")
)

// Error is the one error type at the Qdrant boundary: it records the
// operation, the collection and (when one point is at fault) the point or
// document, and unwraps to a sentinel and the cause.
type Error struct {
	Op         string // "upsert", "search", ...
	Collection string
	Point      string // document id or point id, when one is at fault
	Err        error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("qdrant ")
	b.WriteString(e.Op)
	if e.Collection != "" {
		fmt.Fprintf(&b, " %s", e.Collection)
	}
	if e.Point != "" {
		fmt.Fprintf(&b, ": %s", e.Point)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// classify wraps an error from the go-client with the matching sentinel.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var re *qc.QdrantResourceExhaustedError
	if errors.As(err, &re) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	st, ok := status.FromError(unwrapQdrant(err))
	if !ok {
		return err
	}
	msg := st.Message()
	if shardsMissing(st) {
		return fmt.Errorf("%w: %s: %s", ErrUnavailable, st.Code(), msg)
	}
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("%w: %s", ErrNotFound, msg)
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return fmt.Errorf("%w: %s", ErrInvalid, msg)
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted:
		return fmt.Errorf("%w: %s: %s", ErrUnavailable, st.Code(), msg)
	case codes.PermissionDenied, codes.Unauthenticated:
		return fmt.Errorf("%w: %s", ErrUnauthorized, msg)
	case codes.Unimplemented:
		return fmt.Errorf("%w: %s", ErrUnsupported, msg)
	case codes.Canceled:
		// The caller's own cancellation is kept by do (it wraps
		// ctx.Err()); a server-side cancellation is a transient failure.
		return fmt.Errorf("%w: %s: %s", ErrUnavailable, st.Code(), msg)
	}
	return fmt.Errorf("%s: %s", st.Code(), msg)
}

// unwrapQdrant strips the go-client's QdrantError so the gRPC status shows.
func unwrapQdrant(err error) error {
	for {
		var qe *qc.QdrantError
		if !errors.As(err, &qe) {
			return err
		}
		err = qe.Unwrap()
	}
}

// transient reports whether a raw go-client error is worth retrying, and
// the server's requested delay in seconds (0 when none).
func transient(err error) (bool, int) {
	var re *qc.QdrantResourceExhaustedError
	if errors.As(err, &re) {
		return true, re.RetryAfterS
	}
	st, ok := status.FromError(unwrapQdrant(err))
	if !ok {
		return false, 0
	}
	if shardsMissing(st) {
		return true, 0
	}
	switch st.Code() {
	// Canceled from the server while the caller's context is alive: a
	// cluster node cancels a request whose peer went away mid-call (seen
	// when a Qdrant node is killed); do retries it only while ctx lives.
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted, codes.Canceled:
		return true, 0
	}
	return false, 0
}

// shardsMissing reports a cluster's answer to an operation every shard
// applies (a payload index, a write) while a shard has no active replica
// on some node — one down, or restarted and still recovering: Qdrant says
// FailedPrecondition, "N out of M shards failed to apply operation ... No
// target shard K found for update". It passes once the replica is back,
// so it is retried and, when the retries run out, reported as
// unavailable, not as invalid input.
func shardsMissing(st *status.Status) bool {
	return st.Code() == codes.FailedPrecondition && strings.Contains(st.Message(), "No target shard")
}
