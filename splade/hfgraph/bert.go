package hfgraph

// bert is BERT (modeling_bert.py): absolute positions from 0, token types
// as an input, the MLM head cls.predictions with the body's activation.
var bert = family{
	name:   "BERT",
	archs:  map[string]bool{"BertForMaskedLM": true, "BertModel": false},
	keys:   bertKeys,
	eps:    1e-12,
	prefix: "bert.",
	embed: embedNames{word: "embeddings.word_embeddings", pos: "embeddings.position_embeddings",
		types: "embeddings.token_type_embeddings", norm: "embeddings.LayerNorm"},
	layer: bertLayer,
	head: headNames{dense: "cls.predictions.transform.dense", norm: "cls.predictions.transform.LayerNorm",
		decoder: "cls.predictions.decoder", bias: []string{"cls.predictions.bias", "cls.predictions.decoder.bias"}},
	positions:  fromZero,
	tokenTypes: typeInput,
}
