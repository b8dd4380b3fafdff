package onnxgraph

import (
	"bytes"
	"os"
	"path/filepath"
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

// TestDomainNodesAndOpTypes: a node of ONNX Runtime's contrib domain
// carries the domain and makes the model import it; OpTypes reads the op
// types back from a file while skipping a weight larger than its buffer.
func TestDomainNodesAndOpTypes(t *testing.T) {
	b := NewBuilder("", 21)
	big := make([]byte, 300000) // past the reader's 64 KB buffer
	w := b.Init("w", Int8, []int64{300, 1000}, big)
	y := b.DomainNode(MicrosoftDomain, "MatMulIntegerToFloat", []string{"x", w, "s", b.Float(1)})
	b.Output(b.Node("Relu", []string{y}), "y")
	b.Output(b.Node("Relu", []string{y}), "z")
	data := b.Model("g", "test", nil, nil)
	_, rest, opset, err := SplitModel(data)
	if err != nil || opset != 21 {
		t.Fatalf("SplitModel: opset %d, err %v", opset, err)
	}
	var domains []string
	var ir uint64
	EachField(rest, func(num protowire.Number, _ protowire.Type, _, v []byte) error {
		switch num {
		case ModelOpsetImport:
			d, ver := OpsetEntry(v)
			domains = append(domains, d+":"+string(rune('0'+ver%10)))
		case ModelIRVersion:
			ir, _ = protowire.ConsumeVarint(v)
		}
		return nil
	})
	if !equal(domains, []string{":1", MicrosoftDomain + ":1"}) || ir != 10 {
		t.Errorf("opset imports %v (want the default domain and %s at 1), IR version %d (want 10 at opset 21)", domains, MicrosoftDomain, ir)
	}
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ops, err := OpTypes(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 3 || ops["MatMulIntegerToFloat"] != 1 || ops["Relu"] != 2 || ops["Identity"] != 2 {
		t.Errorf("OpTypes: %v", ops)
	}
	if err := os.WriteFile(path, data[:len(data)-1000], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpTypes(path); err == nil {
		t.Error("OpTypes of a truncated file: no error")
	}
}
