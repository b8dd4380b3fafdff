package config

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spladeq/spladeq/internal/docref"
)

// TestReferenceConfig keeps docs/reference/config.md equal to the
// configuration: every key with its default (from defaults), its
// environment variable and its meaning (the field's comment). It fails
// when a key lacks a comment or a default (`make docs` regenerates it).
func TestReferenceConfig(t *testing.T) {
	keys, err := configKeys()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k.key] = true
		if k.doc == "" {
			t.Errorf("%s (config.go field %s) has no comment saying its meaning and default", k.key, k.field)
		}
		if _, ok := defaults[k.key]; !ok && !strings.HasPrefix(k.key, "vectorizers.") {
			t.Errorf("%s has no entry in defaults (config/load.go)", k.key)
		}
	}
	for k := range defaults {
		if !seen[k] {
			t.Errorf("defaults has %s, which no field of Config reads", k)
		}
	}
	docref.Check(t, "../docs/reference/config.md", configReference(keys))
}

// camel matches Go names that cannot be English words: two capitals or
// more, not all of them (MaxLength, QueryTopK; not TLS, Model).
var camel = regexp.MustCompile(`^[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*$`)

type keyDoc struct {
	key, field, typ, doc string
}

// configKeys walks Config's fields in config.go, in their order, reading
// each key's mapstructure path and comment. A field without a comment of
// its own shares the one above it ("QueryTopK and QueryMinWeight ...").
func configKeys() ([]keyDoc, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "config.go", nil, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	structs := map[string]*ast.StructType{}
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok {
			if st, ok := ts.Type.(*ast.StructType); ok {
				structs[ts.Name.Name] = st
			}
		}
		return true
	})
	var out []keyDoc
	var walk func(prefix string, st *ast.StructType)
	walk = func(prefix string, st *ast.StructType) {
		// Go names in the comments read as the keys users write.
		var names []string
		for _, fl := range st.Fields.List {
			tag := reflect.StructTag(strings.Trim(fl.Tag.Value, "`")).Get("mapstructure")
			tag, _, _ = strings.Cut(tag, ",")
			for _, n := range fl.Names {
				if camel.MatchString(n.Name) {
					names = append(names, n.Name, "`"+tag+"`")
				}
			}
		}
		keysOf := strings.NewReplacer(names...)
		prev := ""
		for _, fl := range st.Fields.List {
			tag := reflect.StructTag(strings.Trim(fl.Tag.Value, "`")).Get("mapstructure")
			tag, _, _ = strings.Cut(tag, ",")
			doc := strings.Join(strings.Fields(fl.Doc.Text()), " ")
			if doc == "" {
				doc = prev
			}
			prev = doc
			switch typ := fl.Type.(type) {
			case *ast.Ident:
				if sub, ok := structs[typ.Name]; ok {
					walk(prefix+tag+".", sub)
					continue
				}
			case *ast.MapType:
				if v, ok := typ.Value.(*ast.Ident); ok && structs[v.Name] != nil {
					walk(prefix+tag+".NAME.", structs[v.Name])
					continue
				}
			}
			name := fl.Names[0].Name
			text := doc
			for _, sep := range []string{" ", ": "} {
				if rest, ok := strings.CutPrefix(text, name+sep); ok && !camel.MatchString(name) {
					text = "`" + tag + "`" + sep + rest
					break
				}
			}
			out = append(out, keyDoc{key: prefix + tag, field: name, typ: types.ExprString(fl.Type), doc: keysOf.Replace(text)})
		}
	}
	walk("", structs["Config"])
	return out, nil
}

func configReference(keys []keyDoc) string {
	var b strings.Builder
	b.WriteString(docref.Header("Configuration reference", "config/config.go (each field's comment) and config/load.go (the defaults)"))
	b.WriteString(`One YAML file holds the configuration: the file named by ` + "`--config`" + `, else ` + "`spladeq.yaml`" + ` in the working
directory when there is one. Each key comes, in increasing precedence, from its default, the file, its
environment variable and a command-line flag where the command has one. ` + "`spladeq config print`" + ` shows the
result with secrets masked. A key the configuration does not know is refused, naming it; so is an
invalid value, each problem naming its key.

Every key has an environment variable: ` + "`SPLADEQ_`" + ` and the key in upper case with "." and "-" as "_".
Lists take commas (` + "`SPLADEQ_SERVER_API_KEYS=key1,key2`" + `), durations Go's units (` + "`30s`" + `), and each weight
its own variable (` + "`SPLADEQ_SEARCH_WEIGHTS_DENSE=2`" + `). A vectorizer's keys are set for a vectorizer the file (or,
without one, the defaults) defines: ` + "`SPLADEQ_VECTORIZERS_SPARSE_MODEL`" + ` sets ` + "`vectorizers.sparse.model`" + `; a variable
naming no defined vectorizer and key, or a whole section (` + "`SPLADEQ_SEARCH_WEIGHTS`" + `), is refused.

`)
	sections := []string{}
	bySection := map[string][]keyDoc{}
	for _, k := range keys {
		s, _, _ := strings.Cut(k.key, ".")
		if bySection[s] == nil {
			sections = append(sections, s)
		}
		bySection[s] = append(bySection[s], k)
	}
	b.WriteString("| section | keys |\n|---|---|\n")
	for _, s := range sections {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %d |\n", s, s, len(bySection[s]))
	}
	for _, s := range sections {
		fmt.Fprintf(&b, "\n## %s\n\n", s)
		if s == "vectorizers" {
			b.WriteString("Named vectorizers: `vectorizers.NAME.KEY`. Without a `vectorizers` section the configuration has these:\n\n```yaml\n")
			b.WriteString(defaultVectorizersYAML())
			b.WriteString("```\n\nWhich keys apply depends on `module`; the meaning says which.\n\n")
		}
		b.WriteString("| key | default | environment variable | meaning |\n|---|---|---|---|\n")
		for _, k := range bySection[s] {
			def := ""
			if d, ok := defaults[k.key]; ok {
				def = "`" + formatDefault(d) + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", k.key, docref.Cell(def), EnvVar(k.key), docref.Cell(k.doc))
		}
	}
	return b.String()
}

func defaultVectorizersYAML() string {
	vs := DefaultVectorizers()
	names := make([]string, 0, len(vs))
	for n := range vs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("vectorizers:\n")
	for _, n := range names {
		v := vs[n]
		fmt.Fprintf(&b, "  %s:\n    module: %s\n", n, v.Module)
		if v.Model != "" {
			fmt.Fprintf(&b, "    model: %s\n", v.Model)
		}
		if v.MaxLength != 0 {
			fmt.Fprintf(&b, "    max_length: %d\n", v.MaxLength)
		}
	}
	return b.String()
}

// formatDefault writes a default as it would be written in YAML.
func formatDefault(d any) string {
	switch v := d.(type) {
	case nil:
		return "unset"
	case string:
		if v == "" {
			return `""`
		}
		return v
	case time.Duration:
		return v.String()
	case []string:
		return "[" + strings.Join(v, ", ") + "]"
	case map[string]any:
		ks := make([]string, 0, len(v))
		for k := range v {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		var parts []string
		for _, k := range ks {
			parts = append(parts, fmt.Sprintf("%s: %v", k, v[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(d)
}
