package api

// SearchRequest is the body of POST /v1/collections/{name}/search. Zero
// fields take the server's configured defaults.
type SearchRequest struct {
	Query string `json:"query"`
	// Vector is the dense query vector, required with the precomputed
	// module and used instead of the dense vectorizer otherwise.
	Vector []float32 `json:"vector,omitempty"`
	// Mode is hybrid (fuse Signals) or one signal alone: sparse, dense or
	// bm25. Default search.mode.
	Mode string `json:"mode,omitempty"`
	// Signals a hybrid search fuses, of bm25, sparse and dense. Default
	// search.signals, less those the collection lacks; named here, a
	// signal the collection lacks is an error.
	Signals []string `json:"signals,omitempty"`
	// Fusion is rrf, dbsf, weighted, weighted_rrf or weighted_dbsf.
	// Default search.fusion.
	Fusion string `json:"fusion,omitempty"`
	// Weights of the weighted fusions per signal (see search.weights); a
	// signal not given keeps search.weights'.
	Weights map[string]float64 `json:"weights,omitempty"`
	// Alpha is shorthand for weights sparse 1−alpha, dense alpha.
	Alpha          *float64 `json:"alpha,omitempty"`
	RRFK           int      `json:"rrf_k,omitempty"`
	Limit          int      `json:"limit,omitempty"`
	Offset         int      `json:"offset,omitempty"`
	PrefetchLimit  int      `json:"prefetch_limit,omitempty"`
	ScoreThreshold *float32 `json:"score_threshold,omitempty"`
	Filter         *Filter  `json:"filter,omitempty"`
	// IDFCorpus computes the IDF of bm25 (and of an IDF sparse vector)
	// over the points it matches instead of the whole collection. Needs
	// Qdrant 1.19 or the embedded store; an older Qdrant refuses it.
	IDFCorpus *Filter `json:"idf_corpus,omitempty"`
	// Explain returns the query's expanded terms and, per hit, the terms
	// that contributed most to its sparse score.
	Explain bool `json:"explain,omitempty"`
	// WithPayload returns payloads. Default true.
	WithPayload *bool `json:"with_payload,omitempty"`
}

// MatchedTerm is a term shared by the query and a hit.
type MatchedTerm struct {
	Token        string  `json:"token"`
	QueryWeight  float32 `json:"query_weight"`
	DocWeight    float32 `json:"doc_weight"`
	Contribution float32 `json:"contribution"`
}

// SearchHit is one hit, with its explanation when asked for.
type SearchHit struct {
	Hit
	MatchedTerms []MatchedTerm `json:"matched_terms,omitempty"`
}

// SearchResult is a search's answer.
type SearchResult struct {
	Hits []SearchHit `json:"hits"`
	// QueryTerms are the query's expanded terms, heaviest first (explain).
	QueryTerms []Term `json:"query_terms,omitempty"`
	// Mode is hybrid when several signals were fused, else the signal.
	Mode string `json:"mode"`
	// Signals are the signals searched, in fusion order.
	Signals []string `json:"signals,omitempty"`
	Fusion  string   `json:"fusion,omitempty"`
}
