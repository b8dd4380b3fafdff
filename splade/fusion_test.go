package splade

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/spladeq/spladeq/splade/hfgraph"
	og "github.com/spladeq/spladeq/splade/onnxgraph"
)

// optimizedOps loads model into an ONNX Runtime session at the encoder's
// optimization level (the runtime's default, all) and counts the op types
// of the graph the runtime runs, as it dumps it.
func optimizedOps(t testing.TB, model []byte, inputs []string, output string) map[string]int {
	t.Helper()
	if err := initRuntime(""); err != nil {
		t.Fatal(err)
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer so.Destroy()
	dump := filepath.Join(t.TempDir(), "optimized.onnx")
	if err := so.SetOptimizedModelFilePath(dump); err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(model, inputs, []string{output}, so)
	if err != nil {
		t.Fatal(err)
	}
	s.Destroy()
	data, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	graph, _, _, err := og.SplitModel(data)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	og.EachField(graph, func(num protowire.Number, _ protowire.Type, _, v []byte) error {
		if num == og.GraphNode {
			og.EachField(v, func(n protowire.Number, _ protowire.Type, _, f []byte) error {
				if n == og.NodeOpType {
					ops[string(f)]++
				}
				return nil
			})
		}
		return nil
	})
	return ops
}

// TestBuiltGraphsGetTheRuntimesTransformerFusions: ONNX Runtime runs each
// layer of a built graph as one Attention, two SkipLayerNormalization and a
// BiasGelu (what it does with a graph depends on the library, 1.30 here, so
// a failure may mean the library changed, not the builder).
func TestBuiltGraphsGetTheRuntimesTransformerFusions(t *testing.T) {
	for _, name := range []string{"hf-bert", "hf-distilbert", "hf-roberta", "hf-xlmr"} {
		for _, opts := range []hfgraph.Options{{Head: hfgraph.MaxLogits, Block: 4096}, {Head: hfgraph.Hidden}} {
			g, err := hfgraph.Build(modelDir(name), opts)
			if err != nil {
				t.Fatal(err)
			}
			ops := optimizedOps(t, g.Model, g.Inputs, g.Output)
			const layers = 2 // every fixture
			if ops["Attention"] != layers || ops["Softmax"] != 0 || ops["SkipLayerNormalization"] < 2*layers || ops["BiasGelu"] < layers {
				var keys []string
				for k := range ops {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				var line string
				for _, k := range keys {
					line += k + ":" + itoa(uint32(ops[k])) + " "
				}
				t.Errorf("%s %s: want %d Attention, no Softmax, %d+ SkipLayerNormalization, %d+ BiasGelu; the runtime runs %s", name, g.Output, layers, 2*layers, layers, line)
			}
		}
	}
}
