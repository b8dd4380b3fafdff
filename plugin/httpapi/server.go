// Package httpapi serves a plugin.Service over HTTP: a JSON API versioned
// under /v1 (described by openapi.json, served at /v1/openapi.json), health
// and readiness probes, and Prometheus metrics.
package httpapi

import (
	"context"
	"crypto/tls"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spladeq/spladeq/api"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/connectors/qdrant"
	"github.com/spladeq/spladeq/internal/apikey"
	"github.com/spladeq/spladeq/internal/jsonpath"
	"github.com/spladeq/spladeq/internal/text"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/splade"
)

// OpenAPI is the API's OpenAPI 3 document.
//
//go:embed openapi.json
var OpenAPI []byte

// access is what a route needs.
type access int

const (
	public access = iota // no key needed
	read                 // a read-only or a read-write key
	write                // a read-write key
)

// route is one endpoint; routes is the single list the mux, the auth check
// and the OpenAPI test read.
type route struct {
	pattern string // "METHOD /path/{wildcard}"
	access  access
	handle  func(h *handler, w http.ResponseWriter, r *http.Request) error
}

var routes = []route{
	{"GET /{$}", public, (*handler).root},
	{"GET /healthz", public, (*handler).healthz},
	{"GET /readyz", public, (*handler).readyz},
	{"GET /metrics", public, nil}, // served by promhttp
	{"GET /v1/openapi.json", public, (*handler).openapi},
	{"PUT /v1/collections/{name}", write, (*handler).putCollection},
	{"GET /v1/collections/{name}", read, (*handler).getCollection},
	{"DELETE /v1/collections/{name}", write, (*handler).deleteCollection},
	{"POST /v1/collections/{name}/documents", write, (*handler).upsertDocuments},
	{"DELETE /v1/collections/{name}/documents/{id...}", write, (*handler).deleteDocument},
	{"POST /v1/collections/{name}/search", read, (*handler).search},
	{"POST /v1/encode", read, (*handler).encode},
	// Qdrant's server-side inference; checks its own token (in the body).
	{"POST /v1/qdrant/inference", public, (*handler).qdrantInference},
}

// Routes returns the pattern of every route the API serves
// ("METHOD /path/{wildcard}"), for the Go client's coverage test.
func Routes() []string {
	out := make([]string, len(routes))
	for i, rt := range routes {
		out[i] = rt.pattern
	}
	return out
}

type handler struct {
	svc *plugin.Service
	cfg config.Server
	log *slog.Logger
}

// Handler returns the API's http.Handler.
func Handler(svc *plugin.Service, log *slog.Logger) http.Handler {
	h := &handler{svc: svc, cfg: svc.Config().Server, log: log}
	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(svc.Metrics().Registry, promhttp.HandlerOpts{})
	for _, rt := range routes {
		rt := rt
		var inner http.Handler
		if rt.handle == nil {
			inner = metrics
		} else {
			inner = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := rt.handle(h, w, r); err != nil {
					h.fail(w, r, err)
				}
			})
		}
		mux.Handle(rt.pattern, h.wrap(rt, inner))
	}
	mux.Handle("/", h.wrap(route{pattern: "unmatched"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no route %s %s", r.Method, r.URL.Path), nil)
	})))
	return mux
}

// statusWriter records the status code for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// wrap adds authentication, limits, the request timeout, logging and
// metrics around a route.
func (h *handler) wrap(rt route, next http.Handler) http.Handler {
	m := h.svc.Metrics()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			d := time.Since(start)
			m.Requests.WithLabelValues(rt.pattern, strconv.Itoa(sw.code)).Inc()
			m.RequestDuration.WithLabelValues(rt.pattern).Observe(d.Seconds())
			h.log.Info("request", "method", r.Method, "route", rt.pattern, "status", sw.code, "duration_ms", d.Milliseconds(), "remote", r.RemoteAddr, "proto", r.Proto)
		}()
		if rt.access != public {
			if code, msg := h.authorize(r, rt.access); code != 0 {
				m.Errors.WithLabelValues("unauthorized").Inc()
				if code == http.StatusUnauthorized {
					sw.Header().Set("WWW-Authenticate", `Bearer realm="spladeq"`)
				}
				writeError(sw, code, "unauthorized", msg, nil)
				return
			}
		}
		r.Body = http.MaxBytesReader(sw, r.Body, h.cfg.MaxBodyBytes)
		ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
		defer cancel()
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}

// authorize checks the API key against every configured key in constant
// time; it returns 0 when the request may proceed.
func (h *handler) authorize(r *http.Request, need access) (int, string) {
	if len(h.cfg.APIKeys) == 0 && len(h.cfg.ReadOnlyAPIKeys) == 0 {
		return 0, ""
	}
	key := apikey.FromRequest(r)
	if key == "" {
		return http.StatusUnauthorized, "missing API key (Authorization: Bearer KEY or X-API-Key: KEY)"
	}
	readOnly := apikey.Match(key, h.cfg.ReadOnlyAPIKeys)
	switch {
	case apikey.Match(key, h.cfg.APIKeys):
		return 0, ""
	case readOnly && need == read:
		return 0, ""
	case readOnly:
		return http.StatusForbidden, "this API key is read-only"
	}
	return http.StatusUnauthorized, "invalid API key"
}

func writeError(w http.ResponseWriter, status int, code, msg string, problems []api.Problem) {
	writeJSON(w, status, api.ErrorResponse{Error: api.ErrorDetail{Code: code, Message: msg, Problems: problems}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

// fail maps an error to its status and a JSON body.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		ie      *plugin.InputError
		body    *bodyError
		maxErr  *http.MaxBytesError
		encErr  *splade.InputError
		status  int
		code    string
		msg     = err.Error()
		details []api.Problem
	)
	switch {
	case errors.As(err, &body):
		status, code, details = http.StatusBadRequest, "invalid_json", []api.Problem{{Field: body.field, Message: body.msg}}
	case errors.As(err, &maxErr):
		status, code, msg = http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body is over the %d-byte limit", maxErr.Limit)
	case errors.As(err, &ie):
		status, code, details = http.StatusBadRequest, "invalid_input", ie.Problems
	case errors.As(err, &encErr):
		status, code = http.StatusBadRequest, "invalid_input"
	case errors.Is(err, plugin.ErrOverloaded):
		status, code = http.StatusTooManyRequests, "overloaded"
		w.Header().Set("Retry-After", "1")
	case errors.Is(err, qdrant.ErrNotFound):
		status, code = http.StatusNotFound, "not_found"
	case errors.Is(err, qdrant.ErrSchemaMismatch):
		status, code = http.StatusConflict, "schema_mismatch"
	case errors.Is(err, qdrant.ErrInvalid):
		status, code = http.StatusBadRequest, "invalid_input"
	case errors.Is(err, context.DeadlineExceeded):
		status, code, msg = http.StatusGatewayTimeout, "timeout", fmt.Sprintf("request took longer than %v", h.cfg.RequestTimeout)
	case errors.Is(err, qdrant.ErrUnavailable):
		status, code = http.StatusServiceUnavailable, "store_unavailable"
	case errors.Is(err, context.Canceled):
		status, code = 499, "canceled"
	default:
		status, code, msg = http.StatusInternalServerError, "internal", "internal error (see the server log)"
		h.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	h.svc.Metrics().Errors.WithLabelValues(code).Inc()
	writeError(w, status, code, msg, details)
}

// bodyError is a request body that does not decode.
type bodyError struct{ field, msg string }

func (e *bodyError) Error() string { return e.field + ": " + e.msg }

// decode reads a JSON body into v, refusing unknown fields and trailing
// data, and names the byte offset of syntax errors.
func decode(r *http.Request, v any, allowEmpty bool) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		if allowEmpty {
			return nil
		}
		return &bodyError{"body", "is empty; want a JSON object"}
	}
	// encoding/json would silently turn invalid UTF-8 in strings into
	// U+FFFD, storing text the client never sent.
	if off := text.FirstInvalidUTF8(data); off >= 0 {
		return &bodyError{"body", fmt.Sprintf("is not valid UTF-8 at byte offset %d", off)}
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return &bodyError{"body", fmt.Sprintf("malformed JSON at byte offset %d: %v", se.Offset, se)}
		case errors.As(err, &te):
			// The decoder names the field without array indices
			// ("documents.text"); the path at its offset names the element.
			field := jsonpath.At(data, te.Offset)
			if field == "" {
				field = te.Field
			}
			if field == "" {
				field = "body"
			}
			return &bodyError{field, fmt.Sprintf("has JSON type %s, want %s (byte offset %d)", te.Value, te.Type, te.Offset)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return &bodyError{strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field"}
		case errors.Is(err, io.ErrUnexpectedEOF):
			return &bodyError{"body", fmt.Sprintf("JSON ends early at byte offset %d", len(data))}
		}
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return err
		}
		return &bodyError{"body", err.Error()}
	}
	if dec.More() {
		return &bodyError{"body", fmt.Sprintf("has data after the JSON object at byte offset %d", dec.InputOffset())}
	}
	return nil
}

// root answers as Qdrant's GET / does, with the store's version.
func (h *handler) root(w http.ResponseWriter, r *http.Request) error {
	v, err := h.svc.Store().ServerVersion(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.Root{Title: "spladeq (qdrant-compatible)", Version: v})
	return nil
}

func (h *handler) healthz(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, api.Health{Status: "ok"})
	return nil
}

func (h *handler) readyz(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.Ready(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, api.Health{Status: "unavailable", Error: err.Error()})
		return nil
	}
	writeJSON(w, http.StatusOK, api.Health{Status: "ready"})
	return nil
}

func (h *handler) openapi(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(OpenAPI)
	return err
}

func (h *handler) putCollection(w http.ResponseWriter, r *http.Request) error {
	var cc api.CollectionConfig
	if err := decode(r, &cc, true); err != nil {
		return err
	}
	info, err := h.svc.EnsureCollection(r.Context(), r.PathValue("name"), cc)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

func (h *handler) getCollection(w http.ResponseWriter, r *http.Request) error {
	info, err := h.svc.Collection(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

func (h *handler) deleteCollection(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.DeleteCollection(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.Deleted{Deleted: r.PathValue("name")})
	return nil
}

func (h *handler) upsertDocuments(w http.ResponseWriter, r *http.Request) error {
	var req api.UpsertRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	res, err := h.svc.UpsertDocuments(r.Context(), r.PathValue("name"), req.Documents)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (h *handler) deleteDocument(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := h.svc.DeleteDocument(r.Context(), r.PathValue("name"), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.Deleted{Deleted: id})
	return nil
}

func (h *handler) search(w http.ResponseWriter, r *http.Request) error {
	var in api.SearchRequest
	if err := decode(r, &in, false); err != nil {
		return err
	}
	res, err := h.svc.Search(r.Context(), r.PathValue("name"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (h *handler) encode(w http.ResponseWriter, r *http.Request) error {
	var in api.EncodeRequest
	if err := decode(r, &in, false); err != nil {
		return err
	}
	res, err := h.svc.Encode(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.EncodeResult{Results: res})
	return nil
}

// Serve serves the API on l until ctx ends, then stops accepting, lets
// in-flight requests finish (up to the shutdown timeout) and returns. With
// tlsConf non-nil it serves HTTPS with it (HTTP/2 and HTTP/1.1, or
// HTTP/1.1 only with server.http2 false), and a plain-HTTP request gets
// 400 from net/http without reaching a handler.
func Serve(ctx context.Context, l net.Listener, svc *plugin.Service, log *slog.Logger, tlsConf *tls.Config) error {
	cfg := svc.Config().Server
	srv := &http.Server{
		Handler:           Handler(svc, log),
		ReadTimeout:       cfg.ReadTimeout,
		ReadHeaderTimeout: min(cfg.ReadTimeout, 10*time.Second),
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         tlsConf,
		// TLS handshake failures (scanners, plain HTTP) at debug, not on stderr.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	if !cfg.HTTP2 {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConf != nil {
			errc <- srv.ServeTLS(l, "", "")
			return
		}
		errc <- srv.Serve(l)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
