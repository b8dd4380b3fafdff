package hfgraph

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/spladeq/spladeq/splade/hfgraph/hftest"
)

// FuzzCheckpoint feeds arbitrary bytes to the safetensors reader and asks
// it for a tensor: it must refuse with an error, never panic or read out of
// bounds.
func FuzzCheckpoint(f *testing.F) {
	seed := filepath.Join(f.TempDir(), "seed.safetensors")
	if err := hftest.WriteSafetensors(seed, []hftest.Tensor{
		{Name: "w", Dtype: "F16", Shape: []int{2, 3}, Values: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "b", Dtype: "F32", Shape: []int{3}, Values: []float32{1, 2, 3}},
	}); err != nil {
		f.Fatal(err)
	}
	data, _ := os.ReadFile(seed)
	f.Add(data)
	f.Add(binary.LittleEndian.AppendUint64(nil, 2))
	f.Add(append(binary.LittleEndian.AppendUint64(nil, 2), "{}"...))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "model.safetensors")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ck, err := OpenCheckpoint(path)
		if err != nil {
			return
		}
		for name, st := range ck.tensors {
			for _, transpose := range []bool{false, len(st.shape) == 2} {
				raw, fill, err := ck.floatTensor(name, st.shape, transpose)
				if err != nil {
					continue
				}
				n := 1
				for _, d := range st.shape {
					n *= d
				}
				if fill != nil {
					if n > 1<<20 {
						continue
					}
					fill(make([]byte, 4*n))
				} else if len(raw) != 4*n {
					t.Fatalf("tensor %q: %d raw bytes for %d elements", name, len(raw), n)
				}
			}
		}
	})
}
