package hfgraph

// family is what differs between the encoder families a graph is built
// for, as data: the one builder (build.go) walks it. Each family's table is
// in its own file, as transformers keeps each in its own
// configuration_*/modeling_* pair.
type family struct {
	name string
	// archs maps each architecture config.json may name to whether its
	// checkpoint has the masked-LM head.
	archs map[string]bool
	// keys name the config.json fields holding the sizes.
	keys configKeys
	// eps is the LayerNorm epsilon when keys.eps is "" or absent.
	eps float64
	// prefix starts the body's tensor names in a checkpoint with the head;
	// a bare model's checkpoint may have it or not.
	prefix string
	embed  embedNames
	// layer names a layer's tensors; %d is the layer index.
	layer layerNames
	head  headNames
	// positions says how position ids are counted.
	positions positionKind
	// tokenTypes says how token types enter the embeddings.
	tokenTypes tokenTypeKind
	// headAct is the head's activation when it does not follow the body's
	// (RobertaLMHead always applies exact GELU).
	headAct string
	// mustBeFalse names boolean config fields the builder does not support
	// when true (DistilBERT's sinusoidal_pos_embds).
	mustBeFalse []string
}

type configKeys struct {
	hidden, layers, heads, intermediate, act, eps string
}

type embedNames struct {
	word, pos, types, norm string
}

type layerNames struct {
	q, k, v, attnOut, attnNorm, ffIn, ffOut, ffNorm string
}

type headNames struct {
	// dense and norm are the transform before the decoder.
	dense, norm string
	// decoder is the projection's weight, absent when tied to the word
	// embeddings; bias lists the names its bias may have.
	decoder string
	bias    []string
}

type positionKind int

const (
	// fromZero: position ids 0, 1, ... (BERT, DistilBERT).
	fromZero positionKind = iota
	// afterPadding: cumsum(mask) * mask + padding_idx, so the first real
	// token is at padding_idx + 1 (RoBERTa's
	// create_position_ids_from_input_ids, with the attention mask standing
	// for input_ids != padding_idx).
	afterPadding
)

type tokenTypeKind int

const (
	// typeInput: token_type_ids is a graph input (BERT).
	typeInput tokenTypeKind = iota
	// typeZero: every token has type 0; row 0 of the type embeddings is
	// added as a constant (RoBERTa, XLM-R).
	typeZero
	// typeNone: no token type embeddings (DistilBERT).
	typeNone
)

// bertKeys are the config.json fields of BERT and RoBERTa.
var bertKeys = configKeys{hidden: "hidden_size", layers: "num_hidden_layers", heads: "num_attention_heads",
	intermediate: "intermediate_size", act: "hidden_act", eps: "layer_norm_eps"}

// bertLayer names a BERT or RoBERTa layer's tensors.
var bertLayer = layerNames{
	q: "encoder.layer.%d.attention.self.query", k: "encoder.layer.%d.attention.self.key",
	v: "encoder.layer.%d.attention.self.value", attnOut: "encoder.layer.%d.attention.output.dense",
	attnNorm: "encoder.layer.%d.attention.output.LayerNorm", ffIn: "encoder.layer.%d.intermediate.dense",
	ffOut: "encoder.layer.%d.output.dense", ffNorm: "encoder.layer.%d.output.LayerNorm",
}

// families are the families the builder knows, looked up by architecture.
var families = []*family{&bert, &distilBERT, &roberta, &xlmRoberta}

func familyOf(arch string) (*family, bool) {
	for _, f := range families {
		if _, ok := f.archs[arch]; ok {
			return f, true
		}
	}
	return nil, false
}
