package api

// DocumentInput is a document to store.
type DocumentInput struct {
	ID      string         `json:"id"`
	Text    string         `json:"text"`
	Payload map[string]any `json:"payload,omitempty"`
	// Vector is a precomputed dense vector (required with the precomputed
	// module; it replaces the dense vectorizer's otherwise). A document with
	// a vector is stored as one chunk.
	Vector []float32 `json:"vector,omitempty"`
}

// UpsertRequest is the body of POST /v1/collections/{name}/documents.
type UpsertRequest struct {
	Documents []DocumentInput `json:"documents"`
}

// UpsertResult says what an upsert stored.
type UpsertResult struct {
	Documents int `json:"documents"`
	Chunks    int `json:"chunks"`
}
