package onnxgraph

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of onnx.proto (ModelProto, GraphProto, NodeProto,
// AttributeProto, TensorProto, ValueInfoProto and the type messages).
const (
	ModelIRVersion    = 1
	ModelProducerName = 2
	ModelGraph        = 7
	ModelOpsetImport  = 8

	OpsetDomain  = 1
	OpsetVersion = 2

	GraphNode        = 1
	GraphName        = 2
	GraphInitializer = 5
	GraphInput       = 11
	GraphOutput      = 12
	GraphValueInfo   = 13

	NodeInput     = 1
	NodeOutput    = 2
	NodeName      = 3
	NodeOpType    = 4
	NodeAttribute = 5
	NodeDomain    = 7

	AttrName   = 1
	AttrFloat  = 2
	AttrInt    = 3
	AttrInts   = 8
	AttrType   = 20
	AttrTFloat = 1 // AttributeProto.FLOAT
	AttrTInt   = 2 // AttributeProto.INT
	AttrTInts  = 7 // AttributeProto.INTS

	TensorDims         = 1
	TensorDataType     = 2
	TensorName         = 8
	TensorRawData      = 9
	TensorDataLocation = 14
	LocationExternal   = 1 // TensorProto.EXTERNAL

	ValueName   = 1
	ValueType   = 2
	TypeTensor  = 1 // TypeProto.tensor_type
	TensorElem  = 1 // TypeProto.Tensor.elem_type
	TensorShape = 2 // TypeProto.Tensor.shape
	ShapeDim    = 1 // TensorShapeProto.dim
	DimValue    = 1 // Dimension.dim_value
	DimParam    = 2 // Dimension.dim_param
)

// Tensor element types (TensorProto.DataType).
const (
	Float = 1
	Uint8 = 2
	Int8  = 3
	Int32 = 6
	Int64 = 7
	Bool  = 9
)

// MicrosoftDomain is the domain of ONNX Runtime's contrib operators
// (MatMulIntegerToFloat, MultiHeadAttention, ...), opset 1.
const MicrosoftDomain = "com.microsoft"

// IRVersion is the ONNX IR version the builders write up to opset 18
// (ONNX 1.13+); IRVersionFor gives the one for later opsets.
const IRVersion = 8

// IRVersionFor is the IR version a model of the given default-domain
// opset declares: 8 up to opset 18, 10 for opsets 21 to 23 (ONNX 1.16+).
func IRVersionFor(opset int) int {
	if opset > 18 {
		return 10
	}
	return IRVersion
}

// EachField calls fn for every top-level field of a message: its number,
// wire type, raw encoding (tag included) and value (bytes for
// length-delimited fields, the varint's encoding otherwise).
func EachField(msg []byte, fn func(num protowire.Number, typ protowire.Type, raw, value []byte) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, msg[n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		raw, value := msg[:n+m], msg[n:n+m]
		if typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(value)
			value = v
		}
		if err := fn(num, typ, raw, value); err != nil {
			return err
		}
		msg = msg[n+m:]
	}
	return nil
}

// AppendMessage appends field num holding the encoded message msg.
func AppendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// NodeProto encodes a node of the default domain.
func NodeProto(name, op string, inputs, outputs []string, attrs ...[]byte) []byte {
	return DomainNodeProto("", name, op, inputs, outputs, attrs...)
}

// DomainNodeProto encodes a node of an operator domain ("" is the default
// domain).
func DomainNodeProto(domain, name, op string, inputs, outputs []string, attrs ...[]byte) []byte {
	var b []byte
	for _, in := range inputs {
		b = appendString(b, NodeInput, in)
	}
	for _, out := range outputs {
		b = appendString(b, NodeOutput, out)
	}
	b = appendString(b, NodeName, name)
	b = appendString(b, NodeOpType, op)
	for _, a := range attrs {
		b = AppendMessage(b, NodeAttribute, a)
	}
	if domain != "" {
		b = appendString(b, NodeDomain, domain)
	}
	return b
}

// IntAttr encodes an INT attribute.
func IntAttr(name string, v int64) []byte {
	b := appendString(nil, AttrName, name)
	b = appendVarint(b, AttrInt, uint64(v))
	return appendVarint(b, AttrType, AttrTInt)
}

// FloatAttr encodes a FLOAT attribute.
func FloatAttr(name string, v float32) []byte {
	b := appendString(nil, AttrName, name)
	b = protowire.AppendTag(b, AttrFloat, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, math.Float32bits(v))
	return appendVarint(b, AttrType, AttrTFloat)
}

// IntsAttr encodes an INTS attribute.
func IntsAttr(name string, vs ...int64) []byte {
	b := appendString(nil, AttrName, name)
	for _, v := range vs {
		b = appendVarint(b, AttrInts, uint64(v))
	}
	return appendVarint(b, AttrType, AttrTInts)
}

// TensorProto encodes a tensor whose data is raw (little-endian, row-major).
func TensorProto(name string, dataType int, dims []int64, raw []byte) []byte {
	return Tensor{Name: name, Type: dataType, Dims: dims, Raw: raw}.Append(nil)
}

// Float32Bytes is the raw encoding of float32 values.
func Float32Bytes(fs ...float32) []byte {
	b := make([]byte, 0, 4*len(fs))
	for _, f := range fs {
		b = protowire.AppendFixed32(b, math.Float32bits(f))
	}
	return b
}

// Int64Bytes is the raw encoding of int64 values.
func Int64Bytes(vs ...int64) []byte {
	b := make([]byte, 0, 8*len(vs))
	for _, v := range vs {
		b = protowire.AppendFixed64(b, uint64(v))
	}
	return b
}

// Dim is an encoded TensorShapeProto.Dimension.
type Dim []byte

// Fixed is a dimension of fixed size n.
func Fixed(n int64) Dim { return Dim(appendVarint(nil, DimValue, uint64(n))) }

// Symbolic is a named dimension whose size is known at run time.
func Symbolic(name string) Dim { return Dim(appendString(nil, DimParam, name)) }

// ValueInfoProto encodes a graph input or output: a tensor of elemType with
// the given dimensions.
func ValueInfoProto(name string, elemType int, dims ...Dim) []byte {
	var shape []byte
	for _, d := range dims {
		shape = AppendMessage(shape, ShapeDim, d)
	}
	tensor := appendVarint(nil, TensorElem, uint64(elemType))
	tensor = AppendMessage(tensor, TensorShape, shape)
	vi := appendString(nil, ValueName, name)
	return AppendMessage(vi, ValueType, AppendMessage(nil, TypeTensor, tensor))
}

// ValueInfo returns a ValueInfoProto's name and its tensor dimensions.
func ValueInfo(vi []byte) (string, []Dim) {
	var name string
	var dims []Dim
	EachField(vi, func(n protowire.Number, t protowire.Type, _, v []byte) error {
		switch n {
		case ValueName:
			name = string(v)
		case ValueType:
			EachField(v, func(n protowire.Number, t protowire.Type, _, tv []byte) error {
				if n == TypeTensor {
					EachField(tv, func(n protowire.Number, t protowire.Type, _, sv []byte) error {
						if n == TensorShape {
							EachField(sv, func(n protowire.Number, t protowire.Type, _, d []byte) error {
								if n == ShapeDim {
									dims = append(dims, Dim(d))
								}
								return nil
							})
						}
						return nil
					})
				}
				return nil
			})
		}
		return nil
	})
	return name, dims
}

// Size reads a dimension's fixed size, if it has one.
func (d Dim) Size() (int, bool) {
	v, ok := 0, false
	EachField(d, func(n protowire.Number, t protowire.Type, _, raw []byte) error {
		if n == DimValue && t == protowire.VarintType {
			x, _ := protowire.ConsumeVarint(raw)
			v, ok = int(x), true
		}
		return nil
	})
	return v, ok
}

// SplitModel splits an encoded ModelProto into its graph, every other
// field (encoded, in order) and the default-domain opset version.
func SplitModel(data []byte) (graph, rest []byte, opset int, err error) {
	err = EachField(data, func(num protowire.Number, typ protowire.Type, raw, value []byte) error {
		switch {
		case num == ModelGraph && typ == protowire.BytesType:
			graph = value
			return nil
		case num == ModelOpsetImport && typ == protowire.BytesType:
			if d, v := OpsetEntry(value); d == "" || d == "ai.onnx" {
				opset = v
			}
		}
		rest = append(rest, raw...)
		return nil
	})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("does not parse as ONNX: %v", err)
	}
	if graph == nil {
		return nil, nil, 0, fmt.Errorf("has no graph")
	}
	return graph, rest, opset, nil
}

// OpsetEntry reads an OperatorSetIdProto.
func OpsetEntry(msg []byte) (domain string, version int) {
	EachField(msg, func(n protowire.Number, t protowire.Type, _, v []byte) error {
		switch {
		case n == OpsetDomain && t == protowire.BytesType:
			domain = string(v)
		case n == OpsetVersion && t == protowire.VarintType:
			x, _ := protowire.ConsumeVarint(v)
			version = int(x)
		}
		return nil
	})
	return domain, version
}

// ReplaceFirstInput returns the NodeProto msg with its first input renamed.
func ReplaceFirstInput(msg []byte, name string) []byte {
	var b []byte
	done := false
	EachField(msg, func(num protowire.Number, _ protowire.Type, raw, _ []byte) error {
		if num == NodeInput && !done {
			done = true
			b = appendString(b, NodeInput, name)
			return nil
		}
		b = append(b, raw...)
		return nil
	})
	return b
}

// UniquePrefix returns a name prefix, base or base0, base1, ..., that no
// name in names starts with.
func UniquePrefix(names []string, base string) string {
	p := base + "/"
	for i := 0; ; i++ {
		clash := false
		for _, n := range names {
			if strings.HasPrefix(n, p) {
				clash = true
				break
			}
		}
		if !clash {
			return p
		}
		p = fmt.Sprintf("%s%d/", base, i)
	}
}

// OpTypes counts the op types of the nodes of the ONNX model file at path
// (the main graph's, by domain-less op type), reading only the nodes: the
// initializers, hundreds of MB in a large model, are skipped over.
func OpTypes(path string) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &fieldReader{r: bufio.NewReaderSize(f, 1<<16), f: f}
	ops := map[string]int{}
	// ModelProto: find the graph field, then walk its fields.
	for {
		num, typ, err := r.tag()
		if err == io.EOF {
			return ops, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		if num != ModelGraph || typ != protowire.BytesType {
			if err := r.skip(typ); err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
			continue
		}
		size, err := r.varint()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		for end := r.off + int64(size); r.off < end; {
			num, typ, err := r.tag()
			if err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
			if num != GraphNode || typ != protowire.BytesType {
				if err := r.skip(typ); err != nil {
					return nil, fmt.Errorf("%s: %v", path, err)
				}
				continue
			}
			l, err := r.varint()
			if err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
			node := make([]byte, l)
			if err := r.read(node); err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
			EachField(node, func(n protowire.Number, _ protowire.Type, _, v []byte) error {
				if n == NodeOpType {
					ops[string(v)]++
				}
				return nil
			})
		}
	}
}

// fieldReader reads protobuf fields from a file, skipping the bytes of
// fields it does not need.
type fieldReader struct {
	r   *bufio.Reader
	f   *os.File
	off int64
}

func (r *fieldReader) varint() (uint64, error) {
	var x uint64
	for shift := 0; shift < 64; shift += 7 {
		c, err := r.r.ReadByte()
		if err != nil {
			if err == io.EOF && shift > 0 {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		r.off++
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x, nil
		}
	}
	return 0, fmt.Errorf("varint overflows at byte %d", r.off)
}

func (r *fieldReader) tag() (protowire.Number, protowire.Type, error) {
	v, err := r.varint()
	if err != nil {
		return 0, 0, err
	}
	return protowire.Number(v >> 3), protowire.Type(v & 7), nil
}

func (r *fieldReader) read(dst []byte) error {
	n, err := io.ReadFull(r.r, dst)
	r.off += int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (r *fieldReader) skip(typ protowire.Type) error {
	var n int64
	switch typ {
	case protowire.VarintType:
		_, err := r.varint()
		return err
	case protowire.Fixed32Type:
		n = 4
	case protowire.Fixed64Type:
		n = 8
	case protowire.BytesType:
		l, err := r.varint()
		if err != nil {
			return err
		}
		n = int64(l)
	default:
		return fmt.Errorf("wire type %d at byte %d", typ, r.off)
	}
	if n <= int64(r.r.Buffered()) {
		r.r.Discard(int(n))
		r.off += n
		return nil
	}
	// Past the buffer: seek the file and start the buffer afresh.
	if _, err := r.f.Seek(r.off+n, io.SeekStart); err != nil {
		return err
	}
	r.off += n
	r.r.Reset(r.f)
	return nil
}
