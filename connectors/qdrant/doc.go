// Package qdrant stores SPLADE sparse vectors, with dense vectors beside
// them, in Qdrant collections through the official go-client over gRPC, and
// runs sparse, dense and hybrid searches.
//
// The same code talks to a Qdrant server ("host:6334", "https://…") or to
// the embedded store ("embedded://DIR", package embedded), which is served
// in-process over gRPC so both take one path.
//
// Point ids are UUIDv5 of "docID#chunk" (PointID), so writing a document
// again replaces it. Every error is an *Error naming the operation, the
// collection and, where one is at fault, the document; it matches one of
// the sentinels (ErrNotFound, ErrInvalid, ErrSchemaMismatch, ErrUnavailable,
// ErrUnauthorized) with errors.Is.
package qdrant
