package httpapi

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/spladeq/spladeq/internal/docref"
)

// TestReferenceHTTPAPI keeps docs/reference/http-api.md equal to
// openapi.json: every route, its statuses and every body's fields
// (`make docs` regenerates it).
func TestReferenceHTTPAPI(t *testing.T) {
	data, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc oaDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	docref.Check(t, "../../docs/reference/http-api.md", httpReference(doc))
}

type oaSchema struct {
	Ref         string               `json:"$ref"`
	Type        oaType               `json:"type"`
	Description string               `json:"description"`
	Enum        []any                `json:"enum"`
	Items       *oaSchema            `json:"items"`
	Properties  map[string]*oaSchema `json:"properties"`
	Required    []string             `json:"required"`
	AddProps    any                  `json:"additionalProperties"`
	Minimum     *float64             `json:"minimum"`
	Maximum     *float64             `json:"maximum"`
	MinItems    *int                 `json:"minItems"`
	MaxItems    *int                 `json:"maxItems"`
	MinLength   *int                 `json:"minLength"`
	MaxLength   *int                 `json:"maxLength"`
	Default     any                  `json:"default"`
	Format      string               `json:"format"`
	OneOf       []*oaSchema          `json:"oneOf"`
}

// oaType is a schema's type: one name, or several ("string or null").
type oaType string

func (t *oaType) UnmarshalJSON(data []byte) error {
	var one string
	if json.Unmarshal(data, &one) == nil {
		*t = oaType(one)
		return nil
	}
	var several []string
	if err := json.Unmarshal(data, &several); err != nil {
		return err
	}
	*t = oaType(strings.Join(several, " or "))
	return nil
}

type oaContent map[string]struct {
	Schema *oaSchema `json:"schema"`
}

type oaResponse struct {
	Ref         string    `json:"$ref"`
	Description string    `json:"description"`
	Content     oaContent `json:"content"`
}

type oaParam struct {
	Name        string    `json:"name"`
	In          string    `json:"in"`
	Required    bool      `json:"required"`
	Description string    `json:"description"`
	Schema      *oaSchema `json:"schema"`
}

type oaOperation struct {
	OperationID string                       `json:"operationId"`
	Summary     string                       `json:"summary"`
	Description string                       `json:"description"`
	Parameters  []oaParam                    `json:"parameters"`
	RequestBody *struct{ Content oaContent } `json:"requestBody"`
	Responses   map[string]oaResponse        `json:"responses"`
	Security    *[]map[string][]string       `json:"security"`
}

type oaDoc struct {
	Info struct {
		Title, Version, Description string
	} `json:"info"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas   map[string]*oaSchema  `json:"schemas"`
		Responses map[string]oaResponse `json:"responses"`
	} `json:"components"`
}

func refName(ref string) string { return ref[strings.LastIndex(ref, "/")+1:] }

// typeOf renders a schema's type: a link for a named schema, "array of X",
// an enumeration.
func typeOf(s *oaSchema) string {
	switch {
	case s == nil:
		return "any"
	case s.Ref != "":
		n := refName(s.Ref)
		return fmt.Sprintf("[%s](#%s)", n, strings.ToLower(n))
	case s.Type == "array":
		return "array of " + typeOf(s.Items)
	case len(s.OneOf) > 0:
		var ts []string
		for _, o := range s.OneOf {
			ts = append(ts, typeOf(o))
		}
		return strings.Join(ts, " or ")
	case s.Type == "":
		return "any"
	}
	return string(s.Type)
}

// constraints renders what a field accepts beyond its type.
func constraints(s *oaSchema) string {
	var cs []string
	if s.Items != nil && len(s.Items.Enum) > 0 {
		cs = append(cs, "each one of "+enum(s.Items.Enum))
	}
	if len(s.Enum) > 0 {
		cs = append(cs, "one of "+enum(s.Enum))
	}
	num := func(f float64) string { return strings.TrimSuffix(fmt.Sprintf("%g", f), ".0") }
	if s.Minimum != nil {
		cs = append(cs, "≥ "+num(*s.Minimum))
	}
	if s.Maximum != nil {
		cs = append(cs, "≤ "+num(*s.Maximum))
	}
	if s.MinItems != nil {
		cs = append(cs, fmt.Sprintf("at least %d items", *s.MinItems))
	}
	if s.MaxItems != nil {
		cs = append(cs, fmt.Sprintf("at most %d items", *s.MaxItems))
	}
	if s.MinLength != nil {
		cs = append(cs, fmt.Sprintf("at least %d characters", *s.MinLength))
	}
	if s.MaxLength != nil {
		cs = append(cs, fmt.Sprintf("at most %d characters", *s.MaxLength))
	}
	if s.Default != nil {
		cs = append(cs, fmt.Sprintf("default %v", s.Default))
	}
	if s.Properties != nil && s.Ref == "" {
		var ps []string
		for _, p := range sortedKeys(s.Properties) {
			ps = append(ps, fmt.Sprintf("`%s` (%s)", p, typeOf(s.Properties[p])))
		}
		cs = append(cs, "fields "+strings.Join(ps, ", "))
	}
	return strings.Join(cs, "; ")
}

func enum(vs []any) string {
	var s []string
	for _, v := range vs {
		s = append(s, fmt.Sprintf("`%v`", v))
	}
	return strings.Join(s, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func bodySchema(c oaContent) *oaSchema {
	for _, k := range sortedKeys(c) {
		return c[k].Schema
	}
	return nil
}

func httpReference(doc oaDoc) string {
	var b strings.Builder
	b.WriteString(docref.Header("HTTP API reference", "plugin/httpapi/openapi.json (served at `GET /v1/openapi.json`)"))
	fmt.Fprintf(&b, "%s\n\n", doc.Info.Description)
	// The routes in the order and with the access the server's own table
	// gives them; their documentation from openapi.json.
	type docRoute struct {
		method, path string
		access       access
		op           oaOperation
		params       []oaParam
	}
	var list []docRoute
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = strings.ReplaceAll(strings.ReplaceAll(path, "...}", "}"), "{$}", "")
		item, ok := doc.Paths[path]
		if !ok {
			panic("openapi.json has no path " + path)
		}
		var shared []oaParam
		if raw, ok := item["parameters"]; ok {
			json.Unmarshal(raw, &shared)
		}
		var op oaOperation
		if err := json.Unmarshal(item[strings.ToLower(method)], &op); err != nil {
			panic(fmt.Sprintf("openapi.json %s %s: %v", method, path, err))
		}
		list = append(list, docRoute{method, path, rt.access, op, append(append([]oaParam(nil), shared...), op.Parameters...)})
	}
	b.WriteString("| route | what it does | key needed |\n|---|---|---|\n")
	for _, r := range list {
		key := map[access]string{public: "none", read: "read-only or read-write", write: "read-write"}[r.access]
		if r.path == "/v1/qdrant/inference" {
			key = "an inference token or an API key, in the body"
		}
		fmt.Fprintf(&b, "| [`%s %s`](#%s) | %s | %s |\n", r.method, r.path, docref.Slug(r.method+" "+r.path), docref.Cell(r.op.Summary), key)
	}
	for _, r := range list {
		fmt.Fprintf(&b, "\n## %s %s\n\n%s\n", r.method, r.path, r.op.Summary)
		if r.op.Description != "" {
			fmt.Fprintf(&b, "\n%s\n", r.op.Description)
		}
		if len(r.params) > 0 {
			b.WriteString("\n| parameter | in | meaning |\n|---|---|---|\n")
			for _, p := range r.params {
				fmt.Fprintf(&b, "| `%s` | %s | %s |\n", p.Name, p.In, docref.Cell(p.Description))
			}
		}
		if r.op.RequestBody != nil {
			fmt.Fprintf(&b, "\nRequest body: %s.\n", typeOf(bodySchema(r.op.RequestBody.Content)))
		}
		b.WriteString("\n| status | meaning | body |\n|---|---|---|\n")
		for _, code := range sortedKeys(r.op.Responses) {
			resp := r.op.Responses[code]
			if resp.Ref != "" {
				resp = doc.Components.Responses[refName(resp.Ref)]
			}
			body := ""
			if s := bodySchema(resp.Content); s != nil {
				body = typeOf(s)
			} else if len(resp.Content) > 0 {
				body = strings.Join(sortedKeys(resp.Content), ", ")
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", code, docref.Cell(resp.Description), body)
		}
	}
	b.WriteString("\n## Bodies\n")
	for _, name := range sortedKeys(doc.Components.Schemas) {
		s := doc.Components.Schemas[name]
		fmt.Fprintf(&b, "\n### %s\n\n", name)
		if s.Description != "" {
			fmt.Fprintf(&b, "%s\n\n", s.Description)
		}
		if len(s.Properties) == 0 {
			fmt.Fprintf(&b, "Type: %s%s.\n", typeOf(&oaSchema{Type: s.Type, Items: s.Items}), strings.TrimSuffix("; "+constraints(s), "; "))
			continue
		}
		if s.AddProps == false {
			b.WriteString("Unknown fields are refused.\n\n")
		}
		required := map[string]bool{}
		for _, r := range s.Required {
			required[r] = true
		}
		b.WriteString("| field | type | accepts | meaning |\n|---|---|---|---|\n")
		for _, p := range sortedKeys(s.Properties) {
			f := s.Properties[p]
			field := "`" + p + "`"
			if required[p] {
				field += " (required)"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", field, typeOf(f), docref.Cell(constraints(f)), docref.Cell(f.Description))
		}
	}
	return b.String()
}
