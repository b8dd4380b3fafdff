package hfgraph

// distilBERT is DistilBERT (modeling_distilbert.py): its own config keys
// (dim, n_layers, n_heads, hidden_dim, activation), LayerNorm epsilon fixed
// at 1e-12, no token types, learned positions from 0 (sinusoidal ones are
// not supported), the head vocab_transform → activation → vocab_layer_norm
// → vocab_projector.
var distilBERT = family{
	name:  "DistilBERT",
	archs: map[string]bool{"DistilBertForMaskedLM": true, "DistilBertModel": false},
	keys: configKeys{hidden: "dim", layers: "n_layers", heads: "n_heads", intermediate: "hidden_dim",
		act: "activation"},
	eps:    1e-12,
	prefix: "distilbert.",
	embed:  embedNames{word: "embeddings.word_embeddings", pos: "embeddings.position_embeddings", norm: "embeddings.LayerNorm"},
	layer: layerNames{
		q: "transformer.layer.%d.attention.q_lin", k: "transformer.layer.%d.attention.k_lin",
		v: "transformer.layer.%d.attention.v_lin", attnOut: "transformer.layer.%d.attention.out_lin",
		attnNorm: "transformer.layer.%d.sa_layer_norm", ffIn: "transformer.layer.%d.ffn.lin1",
		ffOut: "transformer.layer.%d.ffn.lin2", ffNorm: "transformer.layer.%d.output_layer_norm",
	},
	head: headNames{dense: "vocab_transform", norm: "vocab_layer_norm", decoder: "vocab_projector",
		bias: []string{"vocab_projector.bias"}},
	positions:   fromZero,
	tokenTypes:  typeNone,
	mustBeFalse: []string{"sinusoidal_pos_embds"},
}
