package plugin_test

import (
	"context"
	"fmt"
	"os"

	"github.com/spladeq/spladeq/config"
	"github.com/spladeq/spladeq/plugin"
	"github.com/spladeq/spladeq/splade"
)

// Example runs spladeq as a library: a configuration, a collection,
// documents in, a hybrid search out. It uses the repository's fixture
// models and an embedded store in a temporary directory; in an application,
// config.Load reads spladeq.yaml instead.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "spladeq-example")
	defer os.RemoveAll(dir)
	os.Setenv(splade.RuntimeLibraryEnv, splade.RuntimeLibraryPath())

	cfg, err := config.Load(config.LoadOptions{File: "testdata/example.yaml"})
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg.Qdrant.URL = "embedded://" + dir
	svc, err := plugin.New(ctx, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()

	info, _ := svc.EnsureCollection(ctx, "docs", plugin.CollectionConfig{})
	fmt.Println("collection:", info.Name, "sparse:", info.Sparse, "dense:", info.Dense, info.DenseSize)

	res, err := svc.UpsertDocuments(ctx, "docs", []plugin.DocumentInput{
		{ID: "qdrant", Text: "Qdrant stores sparse vectors next to dense vectors.", Payload: map[string]any{"kind": "database"}},
		{ID: "fox", Text: "The quick brown fox jumps over the lazy dog."},
	})
	fmt.Println("stored:", res.Documents, "documents,", res.Chunks, "chunks", err)

	out, err := svc.Search(ctx, "docs", plugin.SearchInput{Query: "Qdrant stores sparse vectors next to dense vectors.", Mode: "hybrid", Limit: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("top hit:", out.Hits[0].DocID, out.Hits[0].Payload["kind"])
	// Output:
	// collection: docs sparse: sparse dense: dense 32
	// stored: 2 documents, 2 chunks <nil>
	// top hit: qdrant database
}
