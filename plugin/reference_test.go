package plugin

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spladeq/spladeq/internal/docref"
)

// TestReferenceMetrics keeps docs/reference/metrics.md equal to the
// metrics a service exports: every spladeq_* name with its type, labels and
// help string (`make docs` regenerates it). It reads them from the
// Metrics fields (which export nothing until first used) and from a live
// service's registry (the per-vectorizer ones the service registers).
func TestReferenceMetrics(t *testing.T) {
	s := newService(t, testConfig(t))
	type metric struct{ name, typ, help, labels string }
	found := map[string]metric{}

	descRE := regexp.MustCompile(`^Desc\{fqName: ("(?:[^"\\]|\\.)*"), help: ("(?:[^"\\]|\\.)*"), .*variableLabels: \{([^}]*)\}\}$`)
	m := reflect.ValueOf(s.Metrics()).Elem()
	for i := 0; i < m.NumField(); i++ {
		c, ok := m.Field(i).Interface().(prometheus.Collector)
		if !ok || m.Type().Field(i).Name == "Registry" {
			continue
		}
		typ := map[string]string{"*prometheus.CounterVec": "counter", "*prometheus.HistogramVec": "histogram",
			"*prometheus.GaugeVec": "gauge", "*prometheus.SummaryVec": "summary"}[m.Field(i).Type().String()]
		if typ == "" {
			t.Fatalf("Metrics.%s is a %s; teach this test its type", m.Type().Field(i).Name, m.Field(i).Type())
		}
		ch := make(chan *prometheus.Desc, 4)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			g := descRE.FindStringSubmatch(d.String())
			if g == nil {
				t.Fatalf("cannot read %s", d)
			}
			name, _ := strconv.Unquote(g[1])
			help, _ := strconv.Unquote(g[2])
			found[name] = metric{name, typ, help, strings.ReplaceAll(g[3], ",", ", ")}
		}
	}
	families, err := s.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "spladeq_") {
			continue
		}
		if _, ok := found[f.GetName()]; ok {
			continue
		}
		labels := map[string]bool{}
		for _, mm := range f.GetMetric() {
			for _, l := range mm.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		var ls []string
		for l := range labels {
			ls = append(ls, l)
		}
		sort.Strings(ls)
		found[f.GetName()] = metric{f.GetName(), strings.ToLower(f.GetType().String()), f.GetHelp(), strings.Join(ls, ", ")}
	}
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 8 {
		t.Fatalf("found only %v", names)
	}

	var b strings.Builder
	b.WriteString(docref.Header("Metrics reference", "the metrics of plugin.Metrics and those the service registers"))
	b.WriteString("`spladeq serve` exports these at `GET /metrics` in Prometheus' text format, beside the Go runtime's (`go_*`) and the process's (`process_*`). Durations are in seconds.\n\n")
	b.WriteString("| name | type | labels | meaning |\n|---|---|---|---|\n")
	for _, n := range names {
		mt := found[n]
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", mt.name, mt.typ, docref.Cell(mt.labels), docref.Cell(mt.help))
	}
	docref.Check(t, "../docs/reference/metrics.md", b.String())
}
