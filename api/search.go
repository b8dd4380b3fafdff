package api

// SearchRequest is the body of POST /v1/collections/{name}/search. Zero
// fields take the server's configured defaults.
type SearchRequest struct {
	Query string `json:"query"`
	// Vector is the dense query vector, required with the precomputed
	// module and used instead of the dense vectorizer otherwise.
	Vector         []float32 `json:"vector,omitempty"`
	Mode           string    `json:"mode,omitempty"`
	Fusion         string    `json:"fusion,omitempty"`
	Alpha          *float64  `json:"alpha,omitempty"`
	RRFK           int       `json:"rrf_k,omitempty"`
	Limit          int       `json:"limit,omitempty"`
	Offset         int       `json:"offset,omitempty"`
	PrefetchLimit  int       `json:"prefetch_limit,omitempty"`
	ScoreThreshold *float32  `json:"score_threshold,omitempty"`
	Filter         *Filter   `json:"filter,omitempty"`
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
	Mode       string `json:"mode"`
	Fusion     string `json:"fusion,omitempty"`
}
