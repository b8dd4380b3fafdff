// Package embedded is an in-process server that speaks Qdrant's gRPC API for
// the subset spladeq uses, so spladeq runs with no Qdrant to install.
//
// It implements qdrant.CollectionsServer, qdrant.PointsServer and
// qdrant.QdrantServer from github.com/qdrant/go-client: collections with named
// dense vectors (Cosine, Dot, Euclid, Manhattan) and sparse vectors (optional
// IDF modifier), which can be added to and removed from an existing
// collection (CreateVectorName, DeleteVectorName, as in Qdrant 1.18+) and
// whose metadata an update merges (a null value removes its key); upsert,
// get, delete (by ids or filter), set payload, count and scroll of points,
// UpdateVectors of existing points, and batch updates of set-payload and
// delete operations; the Query API with nested prefetches, nearest-neighbour queries,
// RRF (k and weights), DBSF and formula fusion; payload filters. Every other
// RPC answers codes.Unimplemented.
//
// Documents (text with a model) take a vector's place when WithInference
// hands the server a function to embed them; BM25 Documents (model
// "qdrant/bm25" or "bm25", any case) are embedded in-process by
// connectors/qdrant/bm25, as Qdrant 1.19.0 computes them itself (Version),
// hook or not.
//
// Scoring follows Qdrant exactly:
//
//   - sparse: dot product over shared indices; only points sharing an index
//     with the query are candidates; with the IDF modifier each query weight
//     is multiplied by ln((N − n + 0.5)/(n + 0.5) + 1), N the number of points
//     with a non-empty vector of that name and n those containing the index;
//     with params.idf.corpus (Qdrant 1.19), N the points the corpus filter
//     matches that have a vector of that name, even empty, and n those of
//     them containing the index;
//   - RRF: Σ 1/((rank+1)/w + k − 1) with 0-based rank, k = 2 and w = 1 by
//     default, which is Σ 1/(rank + k) unweighted;
//   - DBSF: each list normalised by (s − (μ − 3σ))/(6σ) with the sample
//     standard deviation, a list of one point (or σ = 0) scoring 0.5, then
//     summed;
//   - formula: evaluated over the union of the prefetch results, a missing
//     $score[i] taking the formula's default or 0.
//
// Durability: bbolt (go.etcd.io/bbolt) is the source of truth. Every write
// request is validated as a whole and then committed in one fsync'd
// transaction before it is acknowledged, so a crash loses nothing
// acknowledged and never leaves half a batch. The search index lives in
// memory and is rebuilt from the file when the store opens.
package embedded
