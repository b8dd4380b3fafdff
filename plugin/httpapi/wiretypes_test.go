package httpapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/api"
)

// schema is the part of an OpenAPI schema object the wire-type check
// reads.
type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 any                `json:"type"` // a name, or a list of names
	Properties           map[string]*schema `json:"properties"`
	Items                *schema            `json:"items"`
	OneOf                []*schema          `json:"oneOf"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Minimum              *float64           `json:"minimum"`
	Enum                 []any              `json:"enum"`
}

func (s *schema) types() []string {
	switch v := s.Type.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if name, ok := x.(string); ok {
				out = append(out, name)
			}
		}
		return out
	}
	return nil
}

// goFields are a struct's JSON names and their types, embedded structs
// flattened as encoding/json does.
func goFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported() && !f.Anonymous:
		case f.Anonymous && name == "":
			for k, v := range goFields(f.Type) {
				out[k] = v
			}
		case name == "":
			out[f.Name] = f.Type
		default:
			out[name] = f.Type
		}
	}
	return out
}

var rawMessage = reflect.TypeOf(json.RawMessage(nil))

// wireCheck compares Go wire types with openapi.json's schemas, nested
// objects, array items and $refs included.
type wireCheck struct {
	t       *testing.T
	schemas map[string]*schema
	// seen counts the Go struct types compared, by name.
	seen map[string]bool
}

func (c *wireCheck) resolve(s *schema) *schema {
	for s != nil && s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
		s = c.schemas[name]
		if s == nil {
			c.t.Fatalf("openapi.json: $ref %s names no schema", name)
		}
	}
	return s
}

// compare checks that values of Go type gt encode as schema s says, at
// path: a struct has exactly the schema's properties, each compared in
// turn; a slice is an array of its elements; numbers, strings and
// booleans have their JSON types.
func (c *wireCheck) compare(path string, gt reflect.Type, s *schema) {
	s = c.resolve(s)
	if s == nil {
		c.t.Errorf("%s: openapi.json has no schema for %s", path, gt)
		return
	}
	for gt.Kind() == reflect.Pointer {
		gt = gt.Elem()
	}
	want := func(types ...string) {
		have := s.types()
		for _, w := range types {
			if slices.Contains(have, w) {
				return
			}
		}
		c.t.Errorf("%s: Go %s encodes as %s; openapi.json says %v", path, gt, strings.Join(types, " or "), have)
	}
	if gt == rawMessage {
		return // decoded later, against a type of its own (see explicit)
	}
	switch gt.Kind() {
	case reflect.Struct:
		want("object")
		c.markSeen(gt)
		fields := goFields(gt)
		var got, documented []string
		for k := range fields {
			got = append(got, k)
		}
		for k := range s.Properties {
			documented = append(documented, k)
		}
		sort.Strings(got)
		sort.Strings(documented)
		if !slices.Equal(got, documented) {
			c.t.Errorf("%s: %s has JSON fields %v; openapi.json has %v", path, gt, got, documented)
		}
		for _, k := range got {
			if p, ok := s.Properties[k]; ok {
				c.compare(path+"."+k, fields[k], p)
			}
		}
	case reflect.Slice, reflect.Array:
		want("array")
		if s.Items != nil {
			c.compare(path+"[]", gt.Elem(), s.Items)
		}
	case reflect.Map:
		want("object")
		var add schema
		if len(s.AdditionalProperties) > 0 && json.Unmarshal(s.AdditionalProperties, &add) == nil && (add.Type != nil || add.Ref != "" || add.Properties != nil) {
			c.compare(path+"{}", gt.Elem(), &add)
		}
	case reflect.String:
		want("string")
	case reflect.Bool:
		want("boolean")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want("integer")
	case reflect.Float32, reflect.Float64:
		want("number")
	case reflect.Interface:
		// any: the schema says what it may hold; nothing to compare.
	default:
		c.t.Errorf("%s: Go %s has no JSON counterpart to compare", path, gt)
	}
}

// markSeen records gt and the structs embedded in it as compared.
func (c *wireCheck) markSeen(gt reflect.Type) {
	c.seen[gt.String()] = true
	for i := range gt.NumField() {
		if f := gt.Field(i); f.Anonymous && f.Type.Kind() == reflect.Struct {
			c.markSeen(f.Type)
		}
	}
}

// at finds the sub-schema at a path of property names, "[]" for array
// items and "|N" for the Nth oneOf alternative.
func (c *wireCheck) at(name string, path ...string) *schema {
	s := c.resolve(c.schemas[name])
	for _, p := range path {
		if s == nil {
			break
		}
		switch {
		case p == "[]":
			s = c.resolve(s.Items)
		case strings.HasPrefix(p, "|"):
			var i int
			fmt.Sscan(p[1:], &i)
			if i >= len(s.OneOf) {
				c.t.Fatalf("openapi.json %s %v: no oneOf alternative %d", name, path, i)
			}
			s = c.resolve(s.OneOf[i])
		default:
			s = c.resolve(s.Properties[p])
		}
	}
	if s == nil {
		c.t.Fatalf("openapi.json has no schema at %s %v", name, path)
	}
	return s
}

// TestWireTypesMatchTheOpenAPISchemas checks that the api package's types,
// which the server encodes and decodes and the Go client sends and reads,
// and the bodies of Qdrant's inference endpoint, have exactly the
// properties openapi.json documents, with their JSON types, down to every
// nested object: a field added to one and not the other fails here.
func TestWireTypesMatchTheOpenAPISchemas(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]*schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	c := &wireCheck{t: t, schemas: doc.Components.Schemas, seen: map[string]bool{}}
	for name, v := range map[string]any{
		"Status": api.Health{}, "Error": api.ErrorResponse{}, "Deleted": api.Deleted{},
		"CollectionConfig": api.CollectionConfig{}, "CollectionInfo": api.CollectionInfo{},
		"Document": api.DocumentInput{}, "UpsertRequest": api.UpsertRequest{}, "UpsertResult": api.UpsertResult{},
		"Condition": api.Condition{}, "Filter": api.Filter{}, "SearchRequest": api.SearchRequest{},
		"Term": api.Term{}, "Hit": api.SearchHit{}, "SearchResult": api.SearchResult{},
		"EncodeRequest": api.EncodeRequest{}, "EncodeResult": api.EncodeResult{},
		"QdrantInferenceRequest": qdrantInferenceRequest{}, "QdrantInferenceResponse": qdrantInferenceResponse{},
		"QdrantInferenceError": qdrantInferenceError{},
	} {
		c.compare(name, reflect.TypeOf(v), c.at(name))
	}
	// What the inference endpoint decodes or encodes through json.RawMessage
	// or any, against the schema of the place it goes.
	for _, x := range []struct {
		v    any
		name string
		path []string
	}{
		{qdrantInferenceInput{}, "QdrantInferenceRequest", []string{"inputs", "[]"}},
		{qdrantSparse{}, "QdrantInferenceResponse", []string{"embeddings", "[]", "|1"}},
		{[]float32{}, "QdrantInferenceResponse", []string{"embeddings", "[]", "|0"}},
	} {
		c.compare(x.name+"."+strings.Join(x.path, "."), reflect.TypeOf(x.v), c.at(x.name, x.path...))
	}
	// Every wire type was reached, the nested ones included.
	for _, v := range []any{
		api.Encoded{}, api.EncodedSparse{}, api.ErrorDetail{}, api.Problem{}, api.Range{}, api.MatchedTerm{},
		api.SparseVector{}, qdrantModelUsage{}, qdrantInferenceInput{}, qdrantSparse{},
	} {
		if name := reflect.TypeOf(v).String(); !c.seen[name] {
			t.Errorf("%s was not compared with any schema", name)
		}
	}
}

// TestInferenceOptionsAreTheDocumentedOnes sends Qdrant's inference
// endpoint each option openapi.json documents, with values its schema
// allows (accepted), and one it does not document (refused); the names
// the refusal lists as accepted are the documented ones.
func TestInferenceOptionsAreTheDocumentedOnes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]*schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	c := &wireCheck{t: t, schemas: doc.Components.Schemas, seen: map[string]bool{}}
	opts := c.at("QdrantInferenceRequest", "inputs", "[]", "options")
	if len(opts.Properties) == 0 {
		t.Fatal("openapi.json documents no inference options")
	}
	base, _ := start(t, testConfig(t))
	infer := func(options map[string]any) reply {
		body, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{
			"data": "sparse retrieval with learned term weights", "data_type": "text", "model": "spladeq/sparse", "options": options}}})
		return call(t, "POST", base+"/v1/qdrant/inference", "", string(body))
	}
	var documented []string
	for name, p := range opts.Properties {
		documented = append(documented, name)
		values := p.Enum
		if len(values) == 0 && p.Minimum != nil {
			values = []any{*p.Minimum, *p.Minimum + 5}
		}
		if len(values) == 0 {
			t.Errorf("option %s: openapi.json gives no enum or minimum to try", name)
		}
		for _, v := range values {
			if r := infer(map[string]any{name: v}); r.status != 200 {
				t.Errorf("documented option %s=%v: status %d %s", name, v, r.status, r.raw)
			}
		}
	}
	r := infer(map[string]any{"undocumented_option": 1})
	if r.status != 400 {
		t.Fatalf("an undocumented option: status %d, want 400", r.status)
	}
	msg, _ := r.body["error"].(string)
	_, have, ok := strings.Cut(msg, "(have ")
	have, _, _ = strings.Cut(have, ")")
	if !ok {
		t.Fatalf("the refusal lists no accepted options: %s", msg)
	}
	accepted := strings.Split(have, ", ")
	sort.Strings(accepted)
	sort.Strings(documented)
	if !slices.Equal(accepted, documented) {
		t.Errorf("the server accepts options %v; openapi.json documents %v", accepted, documented)
	}
}
