package hub

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/internal/docref"
)

// TestReferenceModels keeps docs/reference/models.md equal to the
// catalogue (`make docs` regenerates it).
func TestReferenceModels(t *testing.T) {
	var b strings.Builder
	b.WriteString(docref.Header("Model catalogue", "the catalogue in plugin/hub/known.go"))
	b.WriteString("The sparse models spladeq knows how to configure: `spladeq model ls --known` prints this table, and " +
		"`spladeq model pull NAME` configures a model from its row. Licences are as each model card stated when the entry was " +
		"written; a pull does not re-check them, so read the card before you use a model.\n\n")
	b.WriteString("| model | architecture | output | queries | module | query max length | Qdrant IDF | pull | licence |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range Catalogue {
		pull := map[string]string{WeightsONNX: "ONNX graph", WeightsSafetensors: "safetensors checkpoint", WeightsExport: "export first"}[k.Weights]
		if k.Gated {
			pull += "; gated (`models.hub_token`)"
		}
		idf := "no"
		if k.QdrantIDF {
			idf = "yes"
		}
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s | %s | `%s` | %d | %s | %s | %s |\n", k.Name, docref.Slug(k.Name), k.Architecture, k.Output, k.Mode,
			k.Module(), k.QueryMaxLength, idf, docref.Cell(pull), k.License)
	}
	for _, k := range Catalogue {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n", k.Name, k.Note)
		if len(k.Files) > 0 {
			fmt.Fprintf(&b, "A pull fetches `%s`.\n\n", strings.Join(k.Files, "`, `"))
		}
		fmt.Fprintf(&b, "Licence: %s. Source: %s\n", k.License, k.LicenseSource)
	}
	docref.Check(t, "../../docs/reference/models.md", b.String())
}

// TestREADMENamesTheCatalogueLicences: the README's licence section names
// every licence a catalogue model carries.
func TestREADMENamesTheCatalogueLicences(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	i := strings.Index(readme, "## Licences")
	if i < 0 {
		t.Fatal("README.md has no Licences section")
	}
	for _, k := range Catalogue {
		if !strings.Contains(readme[i:], k.License) {
			t.Errorf("the README's licences do not name %s (%s)", k.License, k.Name)
		}
	}
}
