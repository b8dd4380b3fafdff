package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/splade"
	"github.com/spladeq/spladeq/splade/hfgraph/hftest"
)

// TestModelConvertWritesTheGraphTheCheckpointLoadsAs: the converted
// model.onnx gives the vectors the checkpoint gives when loaded directly,
// and an existing file is not overwritten without --force.
func TestModelConvertWritesTheGraphTheCheckpointLoadsAs(t *testing.T) {
	dir := t.TempDir()
	size := hftest.Size{Layers: 2, Hidden: 16, Heads: 2, Intermediate: 32, Vocab: 30522, MaxPositions: 64}
	if err := hftest.RandomBERT(dir, size, "BF16", 7); err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile("../../splade/testdata/models/bert-tiny/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644)
	direct, err := splade.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()

	code, out, errOut := spladeq(t, "", "model", "convert", dir)
	if code != 0 || strings.TrimSpace(out) != filepath.Join(dir, "model.onnx") {
		t.Fatalf("convert: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut := spladeq(t, "", "model", "convert", dir); code == 0 || !strings.Contains(errOut, "--force") {
		t.Errorf("second convert: exit %d, stderr %q; want a refusal naming --force", code, errOut)
	}
	converted, err := splade.New(dir) // model.onnx now wins over the checkpoint
	if err != nil {
		t.Fatal(err)
	}
	defer converted.Close()
	if info := converted.Info(); info.ONNX == "" || !info.BlockedHead {
		t.Fatalf("converted model: %+v", info)
	}
	texts := []string{"sparse retrieval", "a somewhat longer text to pad the other one"}
	a, err := direct.Encode(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := converted.Encode(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range texts {
		if len(a[i].Indices) != len(b[i].Indices) || len(a[i].Indices) == 0 {
			t.Fatalf("text %d: %d terms direct, %d converted", i, len(a[i].Indices), len(b[i].Indices))
		}
		for j := range a[i].Indices {
			if a[i].Indices[j] != b[i].Indices[j] || a[i].Values[j] != b[i].Values[j] {
				t.Fatalf("text %d term %d: direct %d=%v, converted %d=%v", i, j, a[i].Indices[j], a[i].Values[j], b[i].Indices[j], b[i].Values[j])
			}
		}
	}
}

// TestModelConvertHeadBlockMeansWhatTheConfigMeans: --head-block reads as
// vectorizers.NAME.head_block does — absent or -1 the plain logits, 0 the
// blocked head at its default width, N that width — and anything below -1
// is a usage error.
func TestModelConvertHeadBlockMeansWhatTheConfigMeans(t *testing.T) {
	dir := t.TempDir()
	size := hftest.Size{Layers: 1, Hidden: 16, Heads: 2, Intermediate: 32, Vocab: 30522, MaxPositions: 64}
	if err := hftest.RandomBERT(dir, size, "F32", 3); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flags  []string
		output string
	}{
		{nil, "output logits"},
		{[]string{"--head-block", "-1"}, "output logits"},
		{[]string{"--head-block", "0"}, "output spladeq_max_logits"},
		{[]string{"--head-block", "1024"}, "output spladeq_max_logits"},
	} {
		out := filepath.Join(t.TempDir(), "model.onnx")
		code, _, errOut := spladeq(t, "", append([]string{"model", "convert", dir, "--out", out}, c.flags...)...)
		if code != 0 || !strings.Contains(errOut, c.output+",") {
			t.Errorf("convert %v: exit %d, stderr %q; want %q", c.flags, code, errOut, c.output)
		}
	}
	if code, _, errOut := spladeq(t, "", "model", "convert", dir, "--out", filepath.Join(t.TempDir(), "x.onnx"), "--head-block", "-2"); code != 2 || !strings.Contains(errOut, "--head-block") {
		t.Errorf("--head-block -2: exit %d, stderr %q; want a usage error naming the flag", code, errOut)
	}
}
