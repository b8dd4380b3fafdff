package plugin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/spladeq/spladeq/config"
)

// copyModel copies a model directory, so a test can edit its files.
func copyModel(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(to, e.Name()), data, 0o644)
	}
	return to
}

func TestVectorizerIdentityFollowsWhatChangesVectors(t *testing.T) {
	model := copyModel(t, filepath.Join(pluginDir, sparseFixture))
	identity := func(edit func(*config.Vectorizer)) string {
		t.Helper()
		cfg := testConfig(t)
		vc := config.Vectorizer{Module: config.ModuleSPLADE, Model: model}
		if edit != nil {
			edit(&vc)
		}
		cfg.Vectorizers = map[string]config.Vectorizer{"sparse": vc}
		cfg.Collection.Dense = ""
		id, err := newService(t, cfg).VectorizerIdentity("sparse")
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	base := identity(nil)
	for name, edit := range map[string]func(*config.Vectorizer){
		"threads":          func(v *config.Vectorizer) { v.Threads = 1 },
		"batch size":       func(v *config.Vectorizer) { v.BatchSize = 3 },
		"query max length": func(v *config.Vectorizer) { v.QueryMaxLength = 16 },
		"model path":       func(v *config.Vectorizer) { v.Model = model + "/." },
	} {
		if got := identity(edit); got != base {
			t.Errorf("%s changed the identity; it does not change vectors:\n%s\n%s", name, base, got)
		}
	}
	for name, edit := range map[string]func(*config.Vectorizer){
		"max length": func(v *config.Vectorizer) { v.MaxLength = 16 },
		"top k":      func(v *config.Vectorizer) { v.TopK = 5 },
		"graph file": func(v *config.Vectorizer) { v.ONNXFile = "model.int8.onnx" },
	} {
		if got := identity(edit); got == base {
			t.Errorf("%s left the identity as it was: %s", name, got)
		}
	}
	// A model file rewritten with other contents (JSON that still parses).
	cfgPath := filepath.Join(model, "config.json")
	data, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, append(data, ' '), 0o644)
	later := time.Now().Add(time.Minute)
	os.Chtimes(cfgPath, later, later)
	if got := identity(nil); got == base {
		t.Error("an edited model file left the identity as it was")
	}
	// An int8 graph written beside model.onnx (make models, model convert
	// --quantize int8) is not what an fp32 vectorizer runs: its identity
	// stays, while the hash an int8 vectorizer takes follows the file.
	base = identity(nil)
	int8Hash := func() string {
		sum, err := modelFilesHash(model, unusedGraph(config.Vectorizer{Quantize: config.QuantizeInt8}))
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	before := int8Hash()
	os.WriteFile(filepath.Join(model, "model.int8.onnx"), []byte("an int8 graph"), 0o644)
	if got := identity(nil); got != base {
		t.Errorf("an int8 graph beside model.onnx changed the fp32 identity:\n%s\n%s", base, got)
	}
	if int8Hash() == before {
		t.Error("an int8 graph written into the directory left the int8 vectorizer's model hash as it was")
	}
}

// TestEveryUntaggedVectorizerFieldIsPartOfTheIdentity sets each field of
// config.Vectorizer in turn: a field that is not tagged fingerprint:"-"
// (one added later, such as a quantization setting) must change the
// settings the identity hashes, a tagged one must not.
func TestEveryUntaggedVectorizerFieldIsPartOfTheIdentity(t *testing.T) {
	base, _ := json.Marshal(vectorSettings(config.Vectorizer{}))
	rt := reflect.TypeOf(config.Vectorizer{})
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		var vc config.Vectorizer
		v := reflect.ValueOf(&vc).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Int, reflect.Int64:
			v.SetInt(3)
		case reflect.Float64:
			v.SetFloat(0.5)
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Pointer:
			v.Set(reflect.New(f.Type.Elem()))
		case reflect.Slice:
			v.Set(reflect.MakeSlice(f.Type, 1, 1))
		default:
			t.Fatalf("field %s: kind %v not covered by this test", f.Name, v.Kind())
		}
		got, _ := json.Marshal(vectorSettings(vc))
		if tagged := f.Tag.Get("fingerprint") == "-"; tagged == (string(got) != string(base)) {
			t.Errorf("field %s (tagged fingerprint:\"-\": %v): identity changed = %v", f.Name, tagged, !tagged)
		}
	}
}
