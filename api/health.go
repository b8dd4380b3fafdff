package api

// Health is the answer of GET /healthz ("ok") and GET /readyz ("ready",
// or "unavailable" with Error and status 503).
type Health struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}
