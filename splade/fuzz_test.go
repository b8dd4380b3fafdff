package splade

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzSparseVector builds vectors from any bytes: Validate must not panic,
// and pruning a valid vector must keep it valid.
func FuzzSparseVector(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0x3f, 0x80, 0, 0, 0, 0, 0, 2, 0x40, 0, 0, 0}, 1, float32(0))
	f.Add([]byte{0, 0, 0, 5, 0x7f, 0xc0, 0, 0}, 0, float32(0.5))                 // NaN
	f.Add([]byte{0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0}, 3, float32(0)) // duplicate
	f.Fuzz(func(t *testing.T, data []byte, topK int, minWeight float32) {
		var v SparseVector
		for len(data) >= 8 {
			v.Indices = append(v.Indices, binary.BigEndian.Uint32(data))
			v.Values = append(v.Values, float32frombits(binary.BigEndian.Uint32(data[4:])))
			data = data[8:]
		}
		if err := v.Validate(); err != nil {
			return
		}
		p := Pruning{TopK: topK, MinWeight: minWeight}
		if p.Validate() != nil {
			return
		}
		out := p.Apply(v)
		if err := out.Validate(); err != nil {
			t.Fatalf("pruning %+v made an invalid vector: %v", p, err)
		}
		if p.TopK > 0 && out.Len() > p.TopK {
			t.Fatalf("top-%d kept %d terms", p.TopK, out.Len())
		}
	})
}

// FuzzEncodeInput sends any byte string through the whole encoder: the
// result is a valid vector or an *InputError, never a panic or a crash in
// the tokenizer across cgo.
func FuzzEncodeInput(f *testing.F) {
	e, err := New(modelDir("bert-tiny"), WithMaxLength(64))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { e.Close() })
	for _, s := range []string{"hello", "", "\x00", "\xff\xfe", "東京 🚀", "a\u200bb", "\u0301\u0301\u0301", string(make([]byte, 3000))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		vecs, err := e.Encode(context.Background(), []string{text})
		if err != nil {
			if !errors.Is(err, ErrInput) {
				t.Fatalf("error for %q is not an input error: %v", text, err)
			}
			return
		}
		if err := vecs[0].Validate(); err != nil {
			t.Fatalf("invalid vector for %q: %v", text, err)
		}
	})
}
