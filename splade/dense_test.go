package splade

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// dense_reference.json comes from tools/genmodel/genmodel.py dense: the
// Python tokenizers package and a float64 numpy forward pass, then mean (or
// CLS) pooling and L2 normalisation.
func TestDenseEncoderMatchesReference(t *testing.T) {
	data, err := os.ReadFile("../plugin/testdata/dense_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Texts []string    `json:"texts"`
		Mean  [][]float64 `json:"mean"`
		CLS   [][]float64 `json:"cls"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "plugin", "testdata", "models", "dense-tiny")
	for _, tc := range []struct {
		name string
		pool Pooling
		want [][]float64
	}{{"mean pooling", PoolMean, ref.Mean}, {"CLS pooling", PoolCLS, ref.CLS}} {
		t.Run(tc.name+" equals the numpy reference", func(t *testing.T) {
			d, err := NewDense(dir, WithPooling(tc.pool), WithBatchSize(5))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.Dimension() != 32 {
				t.Fatalf("dimension %d, want 32", d.Dimension())
			}
			got, err := d.Encode(context.Background(), ref.Texts)
			if err != nil {
				t.Fatal(err)
			}
			for i := range ref.Texts {
				for j := range got[i] {
					if math.Abs(float64(got[i][j])-tc.want[i][j]) > 1e-4 {
						t.Fatalf("text %d %.30q dim %d: got %v, want %v", i, ref.Texts[i], j, got[i][j], tc.want[i][j])
					}
				}
			}
		})
	}
}
