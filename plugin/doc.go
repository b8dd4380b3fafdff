// Package plugin is the vectorizer plugin: it turns the SPLADE encoder and
// the Qdrant connector into what a RAG backend calls.
//
// Vectorizer modules implement one small interface (Sparse or Dense, both
// embedding Vectorizer), with optional abilities discovered by type
// assertion (TermDecoder, Chunker). NewVectorizers wires them from the
// configuration in one place; there are no init-time registrations.
//
// Service is the library: collections, document upserts (chunked,
// vectorized, atomic per call), deletes, sparse/dense/hybrid search with
// explanations, and encoding. Package plugin/httpapi serves it over HTTP.
package plugin
