package api

// Health is the answer of GET /healthz ("ok") and GET /readyz ("ready",
// or "unavailable" with Error and status 503).
type Health struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Root is the answer of GET /: what Qdrant answers there, so that a Qdrant
// client given spladeq's HTTP port for its version check (the Python
// qdrant-client reads GET / even when it talks gRPC) finds the version of
// the store spladeq serves.
type Root struct {
	Title string `json:"title"`
	// Version is the Qdrant version the store reports: the embedded
	// store's (the Qdrant release whose behaviour it implements), or the
	// Qdrant server's.
	Version string `json:"version"`
}
