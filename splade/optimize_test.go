package splade

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644)
	}
	return dst
}

func TestFoldedPoolingEqualsTheGoPipeline(t *testing.T) {
	ref := loadReference(t)
	dir := copyDir(t, modelDir("bert-tiny"))
	src := filepath.Join(dir, "model.onnx")
	if err := FoldPooling(src, PooledPath(src)); err != nil {
		t.Fatal(err)
	}
	plain := newTestEncoder(t, "bert-tiny")
	folded, err := New(dir, WithONNXFile("model.pooled.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer folded.Close()
	if !folded.Info().Pooled || !strings.HasSuffix(folded.Info().ONNX, PooledSuffix) {
		t.Fatalf("the folded model was not picked: %+v", folded.Info())
	}
	want, err := plain.Encode(context.Background(), ref.Texts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := folded.Encode(context.Background(), ref.Texts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ref.Texts {
		if d := compareVectorsTol(got[i], want[i], 1e-5); d != "" {
			t.Errorf("text %d: folded vs Go pooling: %s", i, d)
		}
		if d := compareVectors(got[i], ref.Models["bert-tiny"]["document"].Vectors[i]); d != "" {
			t.Errorf("text %d: folded vs numpy reference: %s", i, d)
		}
	}
}

func TestFoldPoolingRefusesWhatItCannotFold(t *testing.T) {
	dir := copyDir(t, modelDir("bert-tiny-pooled"))
	src := filepath.Join(dir, "model.onnx")
	if err := FoldPooling(src, PooledPath(src)); err == nil || !strings.Contains(err.Error(), "already returns pooled") {
		t.Errorf("got %v, want an already-pooled error", err)
	}
	bad := filepath.Join(t.TempDir(), "x.onnx")
	os.WriteFile(bad, []byte("not onnx"), 0o644)
	if err := FoldPooling(bad, PooledPath(bad)); err == nil {
		t.Error("folded a file that is not ONNX")
	}
}
