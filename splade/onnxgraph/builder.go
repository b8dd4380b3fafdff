package onnxgraph

import (
	"fmt"
	"math"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// Tensor is an initializer not yet encoded: its data is either Raw or
// written by Fill straight into the model's buffer, so a weight converted
// or transposed on the way is never held twice.
type Tensor struct {
	Name string
	Type int // element type (Float, Int64, ...)
	Dims []int64
	// Raw is the data (little-endian, row-major), when Fill is nil.
	Raw []byte
	// Fill, when set, writes the data into dst, which has exactly Bytes()
	// bytes.
	Fill func(dst []byte)
}

// Elements is the product of the dimensions.
func (t Tensor) Elements() int {
	n := 1
	for _, d := range t.Dims {
		n *= int(d)
	}
	return n
}

// Bytes is the size of the data.
func (t Tensor) Bytes() int {
	if t.Fill == nil {
		return len(t.Raw)
	}
	size := 4
	switch t.Type {
	case Int64:
		size = 8
	case Bool, Int8, Uint8:
		size = 1
	}
	return t.Elements() * size
}

// header encodes every field but the data.
func (t Tensor) header() []byte {
	var b []byte
	for _, d := range t.Dims {
		b = appendVarint(b, TensorDims, uint64(d))
	}
	b = appendVarint(b, TensorDataType, uint64(t.Type))
	return appendString(b, TensorName, t.Name)
}

// Len is the encoded size of the TensorProto.
func (t Tensor) Len() int {
	n := t.Bytes()
	return len(t.header()) + protowire.SizeTag(TensorRawData) + protowire.SizeBytes(n)
}

// Append appends the encoded TensorProto to b.
func (t Tensor) Append(b []byte) []byte {
	b = append(b, t.header()...)
	n := t.Bytes()
	b = protowire.AppendTag(b, TensorRawData, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	if t.Fill == nil {
		return append(b, t.Raw...)
	}
	start := len(b)
	b = append(b, make([]byte, n)...)
	t.Fill(b[start:])
	return b
}

// Builder collects nodes and initializers. Every name it makes starts with
// Prefix, so a rewrite can add to an existing graph without a clash.
type Builder struct {
	Prefix string
	// Opset is the default-domain opset the nodes are written for; ops whose
	// signature changed (ReduceMax's axes) follow it.
	Opset int
	Nodes [][]byte
	Inits []Tensor
	// Domains are the operator domains other than the default one that
	// nodes were added in (DomainNode), each imported at opset 1.
	Domains []string
	n       int
	consts  map[string]string
}

// NewBuilder returns a Builder whose names start with prefix.
func NewBuilder(prefix string, opset int) *Builder {
	return &Builder{Prefix: prefix, Opset: opset, consts: map[string]string{}}
}

// Name returns prefix+base.
func (b *Builder) Name(base string) string { return b.Prefix + base }

// Node adds a node with one output and returns the output's name, made
// from the op type and a counter.
func (b *Builder) Node(op string, inputs []string, attrs ...[]byte) string {
	b.n++
	return b.Named(fmt.Sprintf("%s_%d", strings.ToLower(op), b.n), op, inputs, attrs...)
}

// Named adds a node whose name and one output are prefix+name, and returns
// the output's name.
func (b *Builder) Named(name, op string, inputs []string, attrs ...[]byte) string {
	out := b.Name(name)
	b.Nodes = append(b.Nodes, NodeProto(out, op, inputs, []string{out}, attrs...))
	return out
}

// NamedIn is Named for a node of an operator domain (DomainNode).
func (b *Builder) NamedIn(domain, name, op string, inputs []string, attrs ...[]byte) string {
	b.useDomain(domain)
	out := b.Name(name)
	b.Nodes = append(b.Nodes, DomainNodeProto(domain, out, op, inputs, []string{out}, attrs...))
	return out
}

func (b *Builder) useDomain(domain string) {
	for _, d := range b.Domains {
		if d == domain {
			return
		}
	}
	b.Domains = append(b.Domains, domain)
}

// DomainNode adds a node of an operator domain (MicrosoftDomain for ONNX
// Runtime's contrib operators) with one output and returns the output's
// name; the model then imports the domain at opset 1.
func (b *Builder) DomainNode(domain, op string, inputs []string, attrs ...[]byte) string {
	b.n++
	return b.NamedIn(domain, fmt.Sprintf("%s_%d", strings.ToLower(op), b.n), op, inputs, attrs...)
}

// Output adds an Identity from src to the graph output name (not prefixed).
func (b *Builder) Output(src, name string) {
	b.Nodes = append(b.Nodes, NodeProto(b.Name("output_"+name), "Identity", []string{src}, []string{name}))
}

// Init adds an initializer named prefix+name and returns its name.
func (b *Builder) Init(name string, dataType int, dims []int64, raw []byte) string {
	return b.AddTensor(Tensor{Name: b.Name(name), Type: dataType, Dims: dims, Raw: raw})
}

// AddTensor adds an initializer as it is (t.Name is not prefixed).
func (b *Builder) AddTensor(t Tensor) string {
	b.Inits = append(b.Inits, t)
	return t.Name
}

// Float returns a float scalar constant, shared by every use of the value.
func (b *Builder) Float(v float32) string {
	key := fmt.Sprintf("f%08x", math.Float32bits(v))
	if name, ok := b.consts[key]; ok {
		return name
	}
	b.n++
	name := b.Init(fmt.Sprintf("const_%d", b.n), Float, nil, Float32Bytes(v))
	b.consts[key] = name
	return name
}

// Ints returns a 1-D int64 constant, shared by every use of the values.
func (b *Builder) Ints(vs ...int64) string {
	key := fmt.Sprint("i", vs)
	if name, ok := b.consts[key]; ok {
		return name
	}
	b.n++
	name := b.Init(fmt.Sprintf("const_%d", b.n), Int64, []int64{int64(len(vs))}, Int64Bytes(vs...))
	b.consts[key] = name
	return name
}

// Int returns an int64 scalar constant.
func (b *Builder) Int(v int64) string {
	key := fmt.Sprint("s", v)
	if name, ok := b.consts[key]; ok {
		return name
	}
	b.n++
	name := b.Init(fmt.Sprintf("const_%d", b.n), Int64, nil, Int64Bytes(v))
	b.consts[key] = name
	return name
}

// AppendInits appends the initializers as GraphProto fields.
func (b *Builder) AppendInits(dst []byte) []byte {
	for _, t := range b.Inits {
		dst = protowire.AppendTag(dst, GraphInitializer, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(t.Len()))
		dst = t.Append(dst)
	}
	return dst
}

// AppendNodes appends the nodes as GraphProto fields.
func (b *Builder) AppendNodes(dst []byte) []byte { return AppendNodesTo(dst, b.Nodes) }

// initsLen is the encoded size of AppendInits' fields.
func (b *Builder) initsLen() int {
	n := 0
	for _, t := range b.Inits {
		l := t.Len()
		n += protowire.SizeTag(GraphInitializer) + protowire.SizeBytes(l)
	}
	return n
}

// Model encodes a whole ModelProto: the builder's nodes and initializers
// as the graph name with the given inputs and outputs (ValueInfoProto
// encodings), at the builder's opset, in one buffer sized up front.
func (b *Builder) Model(graphName, producer string, inputs, outputs [][]byte) []byte {
	var head []byte // graph fields before the initializers
	head = AppendNodesTo(head, b.Nodes)
	head = appendString(head, GraphName, graphName)
	var tail []byte
	for _, in := range inputs {
		tail = AppendMessage(tail, GraphInput, in)
	}
	for _, out := range outputs {
		tail = AppendMessage(tail, GraphOutput, out)
	}
	graphLen := len(head) + b.initsLen() + len(tail)

	var model []byte
	model = appendVarint(model, ModelIRVersion, uint64(IRVersionFor(b.Opset)))
	model = appendString(model, ModelProducerName, producer)
	opset := appendString(nil, OpsetDomain, "")
	opset = appendVarint(opset, OpsetVersion, uint64(b.Opset))
	model = AppendMessage(model, ModelOpsetImport, opset)
	for _, d := range b.Domains {
		imp := appendString(nil, OpsetDomain, d)
		imp = appendVarint(imp, OpsetVersion, 1)
		model = AppendMessage(model, ModelOpsetImport, imp)
	}
	out := make([]byte, 0, len(model)+graphLen+16)
	out = append(out, model...)
	out = protowire.AppendTag(out, ModelGraph, protowire.BytesType)
	out = protowire.AppendVarint(out, uint64(graphLen))
	out = append(out, head...)
	out = b.AppendInits(out)
	return append(out, tail...)
}

// AppendNodesTo appends encoded nodes as GraphProto fields.
func AppendNodesTo(dst []byte, nodes [][]byte) []byte {
	for _, n := range nodes {
		dst = AppendMessage(dst, GraphNode, n)
	}
	return dst
}

// ReduceMax adds a ReduceMax over one axis, written for the builder's
// opset (axes became an input at opset 18).
func (b *Builder) ReduceMax(name, x string, axis int64) string {
	if b.Opset >= 18 {
		return b.Named(name, "ReduceMax", []string{x, b.Ints(axis)}, IntAttr("keepdims", 0))
	}
	return b.Named(name, "ReduceMax", []string{x}, IntsAttr("axes", axis), IntAttr("keepdims", 0))
}
