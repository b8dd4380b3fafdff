// Package splade turns text into SPLADE learned-sparse vectors.
//
// An Encoder runs three separate steps:
//
//  1. Preprocess: a HuggingFace tokenizer (github.com/daulet/tokenizers)
//     turns each text into token ids, truncated at the mode's max length.
//  2. Forward: a BERT/DistilBERT masked-LM ONNX graph runs on ONNX Runtime
//     (github.com/yalue/onnxruntime_go) over length-sorted, padded batches.
//     A directory with a safetensors checkpoint and no ONNX file gets its
//     graph built in memory by package hfgraph (BERT, DistilBERT, RoBERTa,
//     XLM-RoBERTa) on the ort-free graph layer of package onnxgraph, which
//     the load-time head rewrites use too.
//  3. Postprocess (pure Go): SPLADE max pooling
//     w_j = max_t log(1 + ReLU(logit_tj)) over the non-padding tokens t,
//     computed max-first as log1p(ReLU(max_t logit_tj)), which is equal
//     because log1p∘ReLU is monotone, followed by optional pruning.
//
// A graph whose output is already pooled ([batch, vocab]) skips the pooling.
// The result is a SparseVector whose indices are vocabulary ids in strictly
// increasing order, the shape Qdrant stores.
package splade
