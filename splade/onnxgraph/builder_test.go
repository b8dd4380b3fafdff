package onnxgraph

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestModelEncodesWhatWasBuilt walks a built model back with the readers:
// opset, nodes in order with their outputs, initializers (a filled one
// included) and the declared inputs and outputs.
func TestModelEncodesWhatWasBuilt(t *testing.T) {
	b := NewBuilder("p/", 17)
	w := b.AddTensor(Tensor{Name: "w", Type: Float, Dims: []int64{2, 3}, Fill: func(dst []byte) {
		copy(dst, Float32Bytes(1, 2, 3, 4, 5, 6))
	}})
	x := b.Node("MatMul", []string{"x", w})
	y := b.Node("Add", []string{x, b.Float(1)})
	if b.Float(1) != b.Float(1) || b.Ints(1, 2) != b.Ints(1, 2) || b.Ints(1, 2) == b.Ints(2, 1) {
		t.Fatal("constants are not shared by value")
	}
	b.Output(y, "y")
	data := b.Model("g", "test", [][]byte{ValueInfoProto("x", Float, Symbolic("batch"), Fixed(2))},
		[][]byte{ValueInfoProto("y", Float, Symbolic("batch"), Fixed(3))})

	graph, _, opset, err := SplitModel(data)
	if err != nil || opset != 17 {
		t.Fatalf("SplitModel: opset %d, err %v", opset, err)
	}
	var ops, outs, inits, ins []string
	var wRaw []byte
	EachField(graph, func(num protowire.Number, _ protowire.Type, _, v []byte) error {
		switch num {
		case GraphNode:
			EachField(v, func(n protowire.Number, _ protowire.Type, _, f []byte) error {
				switch n {
				case NodeOpType:
					ops = append(ops, string(f))
				case NodeOutput:
					outs = append(outs, string(f))
				}
				return nil
			})
		case GraphInitializer:
			var name string
			var raw []byte
			EachField(v, func(n protowire.Number, _ protowire.Type, _, f []byte) error {
				switch n {
				case TensorName:
					name = string(f)
				case TensorRawData:
					raw = f
				}
				return nil
			})
			inits = append(inits, name)
			if name == "w" {
				wRaw = raw
			}
		case GraphInput:
			name, dims := ValueInfo(v)
			if n, ok := dims[1].Size(); !ok || n != 2 {
				t.Errorf("input dim 1: got %d %v, want 2", n, ok)
			}
			if _, ok := dims[0].Size(); ok {
				t.Error("the batch dimension reads as fixed")
			}
			ins = append(ins, name)
		}
		return nil
	})
	if got, want := ops, []string{"MatMul", "Add", "Identity"}; !equal(got, want) {
		t.Errorf("ops: got %v, want %v", got, want)
	}
	if got, want := outs, []string{"p/matmul_1", "p/add_3", "y"}; !equal(got, want) {
		t.Errorf("outputs: got %v, want %v", got, want)
	}
	if len(inits) != 4 || inits[0] != "w" || !bytes.Equal(wRaw, Float32Bytes(1, 2, 3, 4, 5, 6)) {
		t.Errorf("initializers %v, w = %v", inits, wRaw)
	}
	if !equal(ins, []string{"x"}) {
		t.Errorf("inputs: got %v", ins)
	}
}

func TestUniquePrefixAvoidsExistingNames(t *testing.T) {
	if got := UniquePrefix([]string{"a/x", "b"}, "a"); got != "a0/" {
		t.Errorf("got %q, want a0/", got)
	}
	if got := UniquePrefix([]string{"b"}, "a"); got != "a/" {
		t.Errorf("got %q, want a/", got)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
