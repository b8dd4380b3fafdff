package api

// Problem is one thing wrong with a request.
type Problem struct {
	// Field is the JSON path of the bad field ("documents[2].text").
	Field string `json:"field"`
	// ID is the document id concerned, when there is one.
	ID      string `json:"id,omitempty"`
	Message string `json:"message"`
}

// ErrorResponse is the body of every error answer of the /v1 API.
type ErrorResponse struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong. Code is one of the Code constants.
type ErrorDetail struct {
	Code     string    `json:"code"`
	Message  string    `json:"message"`
	Problems []Problem `json:"problems,omitempty"`
}

// The error codes the server sends, with their HTTP status.
const (
	CodeInvalidJSON      = "invalid_json"      // 400: the body does not decode
	CodeInvalidInput     = "invalid_input"     // 400: Problems says what and where
	CodeUnauthorized     = "unauthorized"      // 401 missing or bad key; 403 read-only key
	CodeNotFound         = "not_found"         // 404: no such collection, document or route
	CodeSchemaMismatch   = "schema_mismatch"   // 409: the collection exists with another shape
	CodeTooLarge         = "too_large"         // 413: the body is over server.max_body_bytes
	CodeOverloaded       = "overloaded"        // 429: the encode queue is full; Retry-After says when
	CodeCanceled         = "canceled"          // 499: the caller went away
	CodeInternal         = "internal"          // 500: see the server's log
	CodeStoreUnavailable = "store_unavailable" // 503: Qdrant does not answer
	CodeTimeout          = "timeout"           // 504: over server.request_timeout
)
