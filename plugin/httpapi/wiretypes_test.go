package httpapi

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/api"
)

// jsonFields lists the JSON names of t's fields, embedded structs
// flattened as encoding/json does.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case f.Anonymous && name == "":
			out = append(out, jsonFields(f.Type)...)
		case name == "":
			out = append(out, f.Name)
		default:
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// TestWireTypesMatchTheOpenAPISchemas checks that the api package's types,
// which the server encodes and decodes and the Go client sends and reads,
// have exactly the properties openapi.json documents: a field added to one
// and not the other fails here.
func TestWireTypesMatchTheOpenAPISchemas(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	for schema, v := range map[string]any{
		"Status": api.Health{}, "Error": api.ErrorResponse{}, "Deleted": api.Deleted{},
		"CollectionConfig": api.CollectionConfig{}, "CollectionInfo": api.CollectionInfo{},
		"Document": api.DocumentInput{}, "UpsertRequest": api.UpsertRequest{}, "UpsertResult": api.UpsertResult{},
		"Condition": api.Condition{}, "Filter": api.Filter{}, "SearchRequest": api.SearchRequest{},
		"Term": api.Term{}, "Hit": api.SearchHit{}, "SearchResult": api.SearchResult{},
		"EncodeRequest": api.EncodeRequest{}, "EncodeResult": api.EncodeResult{},
	} {
		s, ok := doc.Components.Schemas[schema]
		if !ok {
			t.Errorf("openapi.json has no schema %s", schema)
			continue
		}
		var want []string
		for p := range s.Properties {
			want = append(want, p)
		}
		sort.Strings(want)
		got := jsonFields(reflect.TypeOf(v))
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%T has JSON fields %v; openapi.json's %s has %v", v, got, schema, want)
		}
	}
}
