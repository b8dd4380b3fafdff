package api

// Payload keys spladeq writes on every stored chunk, and so on every hit's
// payload; a document's own payload may not use them.
const (
	PayloadDocID = "doc_id" // the document's id
	PayloadChunk = "chunk"  // the chunk's number in its document, from 0
	PayloadText  = "text"   // the chunk's text
)

// Hit is one search result.
type Hit struct {
	ID      string         `json:"id"`
	DocID   string         `json:"doc_id,omitempty"`
	Chunk   int            `json:"chunk"`
	Text    string         `json:"text,omitempty"`
	Score   float32        `json:"score"`
	Payload map[string]any `json:"payload,omitempty"`
	// SparseScore, DenseScore and BM25Score are each signal's raw score
	// when asked for (explain) and the hit was among that signal's
	// candidates.
	SparseScore *float32 `json:"sparse_score,omitempty"`
	DenseScore  *float32 `json:"dense_score,omitempty"`
	BM25Score   *float32 `json:"bm25_score,omitempty"`
	// Sparse is the hit's sparse vector when asked for (server side only:
	// it is not sent).
	Sparse SparseVector `json:"-"`
}
