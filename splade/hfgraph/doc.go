// Package hfgraph builds ONNX graphs straight from HuggingFace checkpoints:
// config.json plus model.safetensors (or a sharded checkpoint's
// model.safetensors.index.json), in pure Go, for BERT, DistilBERT, RoBERTa
// and XLM-RoBERTa (their *ForMaskedLM architectures for SPLADE, their bare
// *Model ones for dense embeddings).
//
// What differs between the families (tensor names, config keys, position
// ids, token types, LayerNorm epsilon, the head's activation) is one table
// per family (bert.go, distilbert.go, roberta.go); one builder (build.go)
// walks it. The graph is written in the shapes ONNX Runtime's CPU fusions
// recognise (opset 12, LayerNorm decomposed as its LayerNormFusion expects,
// erf GELU, attention as MatMul/Add/Reshape/Transpose/Div/Add/Softmax with
// the -10000 mask, positions of the inputs' symbolic shape), so each layer
// runs as Attention, SkipLayerNormalization and BiasGelu; a SPLADE graph
// can have the blocked vocabulary head (onnxgraph.BlockedMaxHead) built in.
//
// With Options.Quantize set to Int8 the same walk writes an int8 graph
// (quantize.go): each Linear's weight is quantized here, symmetric int8
// with one scale per output column (per vocabulary row for the
// projection), while the tensors are read; activations are quantized per
// token at run time (a blocked QuantizeLinear, opset 21), so a text's
// vector does not depend on its batch-mates; every linear layer is one
// MatMulIntegerToFloat and each layer's attention core one float32
// MultiHeadAttention, the shapes ONNX Runtime's CPU runs as fused int8
// kernels. Embeddings, LayerNorm, softmax and GELU stay float32.
//
// Safetensors is read here, not through a library: the format is an 8-byte
// little-endian header length, a JSON header of name → {dtype, shape,
// data_offsets} and the raw bytes, and the one Go reader found
// (github.com/nlpodyssey/safetensors) has no tagged release and refuses a
// whole file when any tensor has a dtype it does not know, where this
// reader names the file and tensor and refuses only tensors the graph
// uses. F32 weights go into the graph as they are (same little-endian
// layout); F16 and BF16 are widened to float32 initializers, because ONNX
// Runtime's CPU kernels compute in float32 and a graph of fp16 weights
// would need a Cast before every MatMul, run on every forward pass.
package hfgraph
