// Package onnxgraph reads and writes ONNX models as protobuf wire data,
// without cgo and without decoding weights: the field numbers of onnx.proto
// that spladeq uses, encoders for nodes, attributes, tensors and value
// infos, a field walker for streaming rewrites, and a Builder whose Node
// returns its output name.
//
// Two kinds of users share it: the load-time rewrites of an exported graph
// (package splade: gather, blocked head, folded pooling), which copy an
// existing graph field by field and append nodes, and the graph builders
// of package hfgraph, which write a whole model from a HuggingFace
// checkpoint. Neither needs the onnx Go protobuf types: a BERT-base model
// is 400+ MB of initializers, and encoding them straight into one
// pre-sized buffer (Tensor.Fill) keeps a single copy in memory.
package onnxgraph
