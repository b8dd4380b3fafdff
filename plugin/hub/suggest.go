package hub

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spladeq/spladeq/config"
)

// Suggestion is a vectorizer configuration that works for a pulled model:
// from the catalogue when the model is in it, else derived from the files
// the pull fetched.
type Suggestion struct {
	// Ref is the pulled reference; Dir the directory it was pulled to.
	Ref, Dir string
	// Known is the catalogue entry, when there is one.
	Known *Known
	// Vectorizer is the configuration of the sparse vectorizer.
	Vectorizer config.Vectorizer
	// IDF is collection.idf: Qdrant's IDF modifier.
	IDF bool
	// Notes are printed as comments above the configuration.
	Notes []string
}

// Suggest derives the vectorizer configuration of the model pulled from
// ref into dir. A catalogue entry decides the module, output kind and
// query max length and says what the files cannot (the licence); a doc-only
// entry whose pull found no idf.json falls back to splade, with a warning;
// an entry that must be exported first (Known.Pullable false) is configured
// from the files pulled, with its note as a warning.
// Outside the catalogue, a directory with idf.json is configured as a
// doc-only model (splade-idf), a config.json naming a *ForMaskedLM
// architecture gives output logits, and anything else leaves the output
// kind to the encoder (auto).
func Suggest(ref, dir string) (Suggestion, error) {
	s := Suggestion{Ref: ref, Dir: dir}
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return s, fmt.Errorf("suggest a configuration: %s is not a model directory", dir)
	}
	has := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name)))
		return err == nil
	}
	var cfg struct {
		Architectures []string `json:"architectures"`
	}
	if data, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
		if err := json.Unmarshal(data, &cfg); err != nil {
			return s, fmt.Errorf("suggest a configuration: %s/config.json does not parse: %v", dir, err)
		}
	}
	v := config.Vectorizer{Module: config.ModuleSPLADE, Model: dir}
	idf := has("idf.json")
	if idf {
		v.Module = config.ModuleSPLADEIDF
	}
	for _, a := range cfg.Architectures {
		if strings.HasSuffix(a, "ForMaskedLM") {
			v.Output = "logits"
		}
	}
	onnx := false
	for _, c := range onnxCandidates {
		onnx = onnx || has(c)
	}
	if k, ok := Lookup(ref); ok && !k.Pullable() {
		// The hub's files are not what the catalogue describes (the head
		// kept apart, no tokenizer.json): configure what was pulled, and
		// say what to do instead.
		s.Known = &k
		s.Notes = append(s.Notes, fmt.Sprintf("WARNING: %s does not load as pulled: %s", k.Name, k.Note))
		v.QueryMaxLength = k.QueryMaxLength
		if len(cfg.Architectures) > 0 && !strings.HasSuffix(cfg.Architectures[0], "ForMaskedLM") {
			v.Output = ""
		}
	} else if ok {
		s.Known = &k
		v.Module = k.Module()
		v.Output = k.Output
		v.QueryMaxLength = k.QueryMaxLength
		v.MaxLength = k.MaxLength
		s.IDF = k.QdrantIDF
		if k.Mode == DocOnly && !idf {
			s.Notes = append(s.Notes, fmt.Sprintf("WARNING: %s is doc-only but the pull found no idf.json; configured as splade (queries through the model), which the model was not trained for.", k.Name))
			v.Module, v.QueryMaxLength = config.ModuleSPLADE, 0
		}
		s.Notes = append(s.Notes, fmt.Sprintf("%s: %s, %s; licence %s (source: %s)", k.Name, k.Architecture, k.Mode, k.License, strings.TrimSuffix(k.LicenseSource, ".")))
		if k.Note != "" {
			s.Notes = append(s.Notes, k.Note)
		}
	} else {
		mode := BiEncoder
		if idf {
			mode = DocOnly
		}
		arch := "architecture unknown"
		if len(cfg.Architectures) > 0 {
			arch = strings.Join(cfg.Architectures, ", ")
		}
		s.Notes = append(s.Notes, fmt.Sprintf("%s is not in spladeq's catalogue: configured from its files (%s, %s); check its licence on its model card.", ref, arch, mode))
	}
	if v.Module == config.ModuleSPLADEIDF {
		s.Notes = append(s.Notes, "Doc-only: queries are the model's idf.json weights of their tokens, so Qdrant's IDF modifier stays off (it would count the IDF twice).")
	}
	if !onnx {
		s.Notes = append(s.Notes, "No ONNX graph was pulled: the encoder builds the graph from the safetensors checkpoint at load time.")
	}
	s.Vectorizer = v
	return s, nil
}

// YAML renders the suggestion as a spladeq.yaml fragment defining the
// vectorizer name and a sparse-only collection that uses it; every line
// loads through package config.
func (s Suggestion) YAML(name string) string {
	var b strings.Builder
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "# %s\n", n)
	}
	v := s.Vectorizer
	fmt.Fprintf(&b, "vectorizers:\n  %s:\n", name)
	fmt.Fprintf(&b, "    module: %s\n", v.Module)
	fmt.Fprintf(&b, "    model: %s\n", quote(v.Model))
	if v.Output != "" {
		fmt.Fprintf(&b, "    output: %s\n", v.Output)
	}
	if v.Quantize != "" {
		fmt.Fprintf(&b, "    quantize: %s\n", v.Quantize)
	}
	if v.MaxLength > 0 {
		fmt.Fprintf(&b, "    max_length: %d\n", v.MaxLength)
	}
	if v.QueryMaxLength > 0 {
		fmt.Fprintf(&b, "    query_max_length: %d\n", v.QueryMaxLength)
	}
	fmt.Fprintf(&b, "collection:\n  sparse: %s\n", name)
	b.WriteString("  dense: \"\"       # sparse only; name a dense vectorizer here for hybrid search\n")
	fmt.Fprintf(&b, "  idf: %v\n", s.IDF)
	return b.String()
}

// quote writes s as a YAML double-quoted scalar (JSON string syntax is
// valid YAML).
func quote(s string) string {
	data, _ := json.Marshal(s)
	return string(data)
}
