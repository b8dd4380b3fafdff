package hfgraph

// roberta is RoBERTa (modeling_roberta.py): BERT's body, positions
// counted from padding_idx + 1, one token type (row 0 added as a
// constant, no token_type_ids input), the head lm_head with exact GELU
// whatever hidden_act says.
var roberta = family{
	name:   "RoBERTa",
	archs:  map[string]bool{"RobertaForMaskedLM": true, "RobertaModel": false},
	keys:   bertKeys,
	eps:    1e-12,
	prefix: "roberta.",
	embed: embedNames{word: "embeddings.word_embeddings", pos: "embeddings.position_embeddings",
		types: "embeddings.token_type_embeddings", norm: "embeddings.LayerNorm"},
	layer: bertLayer,
	head: headNames{dense: "lm_head.dense", norm: "lm_head.layer_norm", decoder: "lm_head.decoder",
		bias: []string{"lm_head.bias", "lm_head.decoder.bias"}},
	positions:  afterPadding,
	tokenTypes: typeZero,
	headAct:    "gelu",
}

// xlmRoberta is XLM-RoBERTa (modeling_xlm_roberta.py): RoBERTa's graph and
// tensor names (its checkpoints use the roberta. prefix too) under other
// architecture names.
var xlmRoberta = func() family {
	f := roberta
	f.name = "XLM-RoBERTa"
	f.archs = map[string]bool{"XLMRobertaForMaskedLM": true, "XLMRobertaModel": false}
	return f
}()
