package hub

import (
	"sort"
	"strings"
)

// Query modes of a sparse model.
const (
	// BiEncoder models encode queries with the model, as documents.
	BiEncoder = "bi-encoder"
	// DocOnly models ("inference-free") encode only documents; a query is
	// its tokens weighted by the model's idf.json (module splade-idf).
	DocOnly = "doc-only"
)

// Weights says where a model's graph comes from when it is pulled.
const (
	// WeightsONNX: the repository holds an ONNX export the encoder runs.
	WeightsONNX = "onnx"
	// WeightsSafetensors: the repository holds a safetensors checkpoint
	// and no ONNX export; the encoder builds the graph from it at load
	// time.
	WeightsSafetensors = "safetensors"
	// WeightsExport: nothing in the repository loads as it is (no
	// tokenizer.json, only pytorch_model.bin, or a head kept apart); the
	// model must be exported first (Known.Note says how).
	WeightsExport = "export"
)

// Known describes a sparse model spladeq knows how to configure: what it
// is, how its queries are encoded, what a pull fetches and its licence.
// The catalogue is data; `spladeq model ls --known` and the README table
// print it, and `spladeq model pull` configures from it.
type Known struct {
	// Name is the hub reference, ORG/NAME.
	Name string
	// Architecture is config.json's architectures entry.
	Architecture string
	// Output is what the ONNX graph outputs: logits (a masked-LM head,
	// SPLADE pooling) or token_weights (one weight per token, BGE-M3).
	Output string
	// Mode is BiEncoder or DocOnly.
	Mode string
	// QueryMaxLength is the query max length the printed configuration
	// sets (0: the document max length).
	QueryMaxLength int
	// MaxLength is the document max length the printed configuration
	// sets (0: the model's, at most 512).
	MaxLength int
	// QdrantIDF says whether Qdrant's IDF modifier belongs on the
	// collection. False for every model here: a SPLADE bi-encoder's
	// weights already carry term importance, and a doc-only model's query
	// weights are its idf.json, so Qdrant's IDF would count it twice.
	QdrantIDF bool
	// Weights is WeightsONNX, WeightsSafetensors or WeightsExport.
	Weights string
	// Files are the files a pull fetches (the ONNX graph or the
	// checkpoint, the tokenizer and config files, idf.json); empty for
	// WeightsExport.
	Files []string
	// Gated models need the licence accepted on the hub and
	// models.hub_token set.
	Gated bool
	// License is the SPDX-style identifier, or "unknown".
	License string
	// LicenseSource says where the licence was read.
	LicenseSource string
	// Note says what a user must know: a non-commercial licence, an
	// export to make, an uncertainty.
	Note string
}

// Module is the vectorizer module for the model: splade-idf for doc-only
// models, splade otherwise.
func (k Known) Module() string {
	if k.Mode == DocOnly {
		return "splade-idf"
	}
	return "splade"
}

// Pullable reports whether `spladeq model pull` gives a directory the
// encoder loads as it is.
func (k Known) Pullable() bool { return k.Weights != WeightsExport }

// tokenizerFiles are pulled for every model that has them.
var tokenizerFiles = []string{"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}

func files(extra ...string) []string {
	return append(append([]string(nil), tokenizerFiles...), extra...)
}

const (
	naverLicense = "The model card's metadata (license: cc-by-nc-sa-4.0); the SPLADE-v3 card's citation repeats it."
	nonCommerce  = "CC BY-NC-SA 4.0: non-commercial use only, share-alike."
)

// Catalogue is every known sparse model, sorted by name.
var Catalogue = sortKnown([]Known{
	{
		Name: "naver/splade-v3", Architecture: "BertForMaskedLM", Output: "logits", Mode: BiEncoder,
		QueryMaxLength: 64, Weights: WeightsSafetensors, Files: files("model.safetensors"), Gated: true,
		License: "CC-BY-NC-SA-4.0", LicenseSource: naverLicense,
		Note: nonCommerce + " Reported gated: accept the conditions on the hub and set models.hub_token. Its file listing was not confirmed here (model.safetensors expected, as the other naver checkpoints were converted); a pull that finds neither ONNX nor safetensors stops and says so.",
	},
	{
		Name: "naver/splade-cocondenser-ensembledistil", Architecture: "BertForMaskedLM", Output: "logits", Mode: BiEncoder,
		QueryMaxLength: 64, Weights: WeightsSafetensors, Files: files("model.safetensors"),
		License: "CC-BY-NC-SA-4.0", LicenseSource: "The model card's metadata (license: cc-by-nc-sa-4.0).",
		Note: nonCommerce + " SPLADE++; model.safetensors was added beside pytorch_model.bin by the hub's conversion bot.",
	},
	{
		Name: "naver/splade_v2_distil", Architecture: "DistilBertForMaskedLM", Output: "logits", Mode: BiEncoder,
		QueryMaxLength: 64, Weights: WeightsExport,
		License: "CC-BY-NC-SA-4.0", LicenseSource: "The model card's metadata (license: cc-by-nc-sa-4.0).",
		Note: nonCommerce + " Its main branch has no tokenizer.json and only pytorch_model.bin (a safetensors conversion sits unmerged in refs/pr/1): export it with `optimum-cli export onnx --model naver/splade_v2_distil --task fill-mask DIR` and set model: DIR.",
	},
	{
		Name: "prithivida/Splade_PP_en_v1", Architecture: "BertForMaskedLM", Output: "logits", Mode: BiEncoder,
		QueryMaxLength: 64, Weights: WeightsONNX, Files: files("model.onnx"),
		License: "Apache-2.0", LicenseSource: "The model card's metadata (license: apache-2.0).",
		Note: "SPLADE++ retrained by its author under Apache 2.0; ships model.onnx (532 MB).",
	},
	{
		Name: "opensearch-project/opensearch-neural-sparse-encoding-doc-v2-distill", Architecture: "DistilBertForMaskedLM", Output: "logits", Mode: DocOnly,
		QueryMaxLength: 512, Weights: WeightsSafetensors, Files: files("model.safetensors", "idf.json"),
		License: "Apache-2.0", LicenseSource: "The model card's metadata (license: apache-2.0).",
		Note: "Inference-free: queries are tokenized and weighted by idf.json, no model run.",
	},
	{
		Name: "opensearch-project/opensearch-neural-sparse-encoding-doc-v3-distill", Architecture: "DistilBertForMaskedLM", Output: "logits", Mode: DocOnly,
		QueryMaxLength: 512, Weights: WeightsSafetensors, Files: files("model.safetensors", "idf.json"),
		License: "Apache-2.0", LicenseSource: "The model card's metadata (license: apache-2.0).",
		Note: "Inference-free. Laid out for sentence-transformers (the query weights also under query_0_SparseStaticEmbedding/); idf.json at the top level is not confirmed for this revision: when the pull finds none it says so and configures splade.",
	},
	{
		Name: "opensearch-project/opensearch-neural-sparse-encoding-v2-distill", Architecture: "DistilBertForMaskedLM", Output: "logits", Mode: BiEncoder,
		QueryMaxLength: 64, Weights: WeightsSafetensors, Files: files("model.safetensors"),
		License: "Apache-2.0", LicenseSource: "The model card's metadata (license: apache-2.0).",
		Note: "The bi-encoder of the v2 family: queries go through the model too.",
	},
	{
		Name: "ibm-granite/granite-embedding-30m-sparse", Architecture: "RobertaForMaskedLM", Output: "logits", Mode: BiEncoder,
		QueryMaxLength: 64, Weights: WeightsSafetensors, Files: files("model.safetensors"),
		License: "Apache-2.0", LicenseSource: "The model card (License: Apache 2.0) and its metadata.",
		Note: "RoBERTa family: byte-level BPE vocabulary, no token_type_ids.",
	},
	{
		Name: "BAAI/bge-m3", Architecture: "XLMRobertaModel", Output: "token_weights", Mode: BiEncoder,
		QueryMaxLength: 64, Weights: WeightsExport,
		License: "MIT", LicenseSource: "The model card's metadata (license: mit).",
		Note: "The sparse head (sparse_linear.pt, a torch pickle) is kept apart from the encoder, and the repository's onnx/model.onnx is the encoder alone (last_hidden_state): use an ONNX export whose graph ends in the sparse head — one weight per token, [batch, seq] or [batch, seq, 1], e.g. a three-head dense/sparse/ColBERT export — with BGE-M3's tokenizer.json beside it. XLM-R vocabulary (250,002), no token_type_ids.",
	},
})

func sortKnown(ks []Known) []Known {
	sort.Slice(ks, func(i, j int) bool { return strings.ToLower(ks[i].Name) < strings.ToLower(ks[j].Name) })
	return ks
}

// Lookup returns the catalogue entry of ref (ORG/NAME, a revision
// ignored; case-insensitive as the hub is).
func Lookup(ref string) (Known, bool) {
	name, _, _ := strings.Cut(ref, "@")
	for _, k := range Catalogue {
		if strings.EqualFold(k.Name, name) {
			return k, true
		}
	}
	return Known{}, false
}
