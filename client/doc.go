// Package client is a Go client for spladeq's /v1 HTTP API (spladeq
// serve). It is pure Go: it links neither ONNX Runtime nor the tokenizers,
// and builds with CGO_ENABLED=0. Requests and answers are the types of
// package api, the same ones the server encodes and decodes.
//
//	c, err := client.New(client.Config{BaseURL: "http://localhost:8080", APIKey: key})
//	...
//	info, err := c.EnsureCollection(ctx, "docs", api.CollectionConfig{})
//	res, err := c.UpsertDocuments(ctx, "docs", api.UpsertRequest{Documents: []api.DocumentInput{{ID: "a", Text: "..."}}})
//	hits, err := c.Search(ctx, "docs", api.SearchRequest{Query: "...", Mode: "hybrid"})
//
// Every method takes a context; its deadline bounds the call, retries
// included. Failed calls return a *Error, which matches one of the
// sentinel errors (ErrNotFound, ErrInvalidInput, ...) with errors.Is.
//
// Retries: an answer 429 (the server's encode queue is full) or 503 (its
// Qdrant store is unavailable), or a failure to reach the server, is
// retried up to Config.Retries times, waiting the exponential backoff or
// the server's Retry-After (seconds or an HTTP date), whichever is longer —
// but never past the context's deadline: when the next wait would end
// after it, the call returns the last error at once. Only idempotent
// requests are retried that way; one that is not would be retried only on
// a 429 or 503 carrying Retry-After (the server saying it did nothing). Every
// /v1 route is idempotent (a document upsert replaces documents by id, a
// delete of what is gone changes nothing), so all are retried; the probes
// (Health, Ready) are not, since they report the moment they are called.
package client
