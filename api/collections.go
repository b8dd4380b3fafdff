package api

// CollectionConfig is the body of PUT /v1/collections/{name}: how a
// collection is created. Every field may be left out.
type CollectionConfig struct {
	// Sparse names the sparse vectorizer; "" uses collection.sparse from
	// the configuration, "none" makes a dense-only collection.
	Sparse string `json:"sparse,omitempty"`
	// Dense names the dense vectorizer; "" uses collection.dense, "none"
	// makes a sparse-only collection.
	Dense string `json:"dense,omitempty"`
	// BM25 names the bm25 vectorizer; "" uses collection.bm25, "none"
	// makes a collection without BM25.
	BM25 string `json:"bm25,omitempty"`
	// DenseSize must match the dense vectorizer's dimension when given.
	DenseSize int `json:"dense_size,omitempty"`
	// IDF turns on Qdrant's IDF modifier. Default collection.idf.
	IDF *bool `json:"idf,omitempty"`
	// Distance of the dense vector. Default collection.distance.
	Distance string `json:"distance,omitempty"`
}

// CollectionInfo describes a collection: the answer of PUT and GET
// /v1/collections/{name}.
type CollectionInfo struct {
	Name   string `json:"name"`
	Points uint64 `json:"points"`
	Sparse string `json:"sparse"`
	Dense  string `json:"dense"`
	// BM25 is the bm25 vectorizer, "none" for a collection without BM25.
	BM25      string `json:"bm25"`
	DenseSize int    `json:"dense_size,omitempty"`
	IDF       bool   `json:"idf"`
	Distance  string `json:"distance,omitempty"`
	// Adding is a signal being added in place (`spladeq collection
	// add-signal`): its vector exists and is written with every document,
	// but not every point has it yet, so searches leave it out and refuse
	// it by name until it is complete.
	Adding string `json:"adding,omitempty"`
}

// Deleted is the answer of DELETE /v1/collections/{name} (the collection's
// name) and DELETE /v1/collections/{name}/documents/{id} (the document id).
type Deleted struct {
	Deleted string `json:"deleted"`
}
