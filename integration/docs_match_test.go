package integration

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// decimalNumber is a number with a fractional part as the docs print
// scores and weights: 1.2295, -0.58, 15.233648, 1.2e-05.
var decimalNumber = regexp.MustCompile(`-?\d+\.\d+(?:[eE][-+]?\d+)?`)

// matchOutput reports whether want, where "..." stands for any text,
// occurs in got. A decimal number of want (a score, a weight) matches a
// number of got that differs by no more than floating-point noise: one
// unit of the last digit shown, or a relative 1e-5, whichever is larger.
// ONNX Runtime picks its kernels by CPU (AVX2, AVX-512, VNNI), so the
// same model gives scores that differ in the last float32 digit from one
// machine to another; everything else — words, ids, integers such as
// counts, the order of hits — must be as shown.
func matchOutput(want, got string) bool {
	var pattern strings.Builder
	var shown []string // want's decimal numbers, in order
	for i, part := range strings.Split(strings.TrimSpace(want), "...") {
		if i > 0 {
			pattern.WriteString(".*?")
		}
		last := 0
		for _, loc := range decimalNumber.FindAllStringIndex(part, -1) {
			if !standsAlone(part, loc[0], loc[1]) {
				continue // part of a version or an address: 1.19.0, 127.0.0.1
			}
			pattern.WriteString(regexp.QuoteMeta(part[last:loc[0]]))
			pattern.WriteString(`(` + decimalNumber.String() + `)`)
			shown = append(shown, part[loc[0]:loc[1]])
			last = loc[1]
		}
		pattern.WriteString(regexp.QuoteMeta(part[last:]))
	}
	m := regexp.MustCompile("(?s)" + pattern.String()).FindStringSubmatch(got)
	if m == nil {
		return false
	}
	for i, w := range shown {
		if !closeEnough(w, m[i+1]) {
			return false
		}
	}
	return true
}

// standsAlone reports whether s[i:j] is a whole number, not a piece of a
// dotted version or address: no digit, and no dot followed by a digit, on
// either side.
func standsAlone(s string, i, j int) bool {
	before := i > 0 && (isDigit(s[i-1]) || s[i-1] == '.' && i > 1 && isDigit(s[i-2]))
	after := j < len(s) && (isDigit(s[j]) || s[j] == '.' && j+1 < len(s) && isDigit(s[j+1]))
	return !before && !after
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// closeEnough compares a number the docs show with the one printed.
func closeEnough(shown, printed string) bool {
	if shown == printed {
		return true
	}
	w, err1 := strconv.ParseFloat(shown, 64)
	g, err2 := strconv.ParseFloat(printed, 64)
	if err1 != nil || err2 != nil {
		return false
	}
	mantissa := shown
	if k := strings.IndexAny(mantissa, "eE"); k >= 0 {
		mantissa = mantissa[:k]
	}
	digits := len(mantissa) - strings.IndexByte(mantissa, '.') - 1
	unit := math.Pow(10, -float64(digits))
	if k := strings.IndexAny(shown, "eE"); k >= 0 {
		exp, _ := strconv.Atoi(shown[k+1:])
		unit *= math.Pow(10, float64(exp))
	}
	return math.Abs(w-g) <= math.Max(unit*1.000001, 1e-5*math.Abs(w))
}

func TestMatchOutputForgivesFloatNoiseAndNothingElse(t *testing.T) {
	for _, c := range []struct {
		want, got string
		ok        bool
	}{
		{`"score":15.233648,...,"doc_weight":1.9354401`, `{"score":15.233649,"x":1,"doc_weight":1.9354404}`, true},
		{`1. city-Tokyo  1.2295`, `1. city-Tokyo  1.2296`, true},              // one unit of the last digit
		{`1. city-Tokyo  1.2295`, `1. city-Tokyo  1.2297`, false},             // two
		{`bm25 9.7810  sparse 21.2806`, `bm25 9.7810  sparse 21.3806`, false}, // a real change
		{`score 0.5807524`, `score 0.5807523`, true},
		{`score 1.2e-05`, `score 1.3e-05`, true},
		{`score 1.2e-05`, `score 1.5e-05`, false},
		{`26 added, 0 updated`, `27 added, 0 updated`, false}, // counts are exact
		{`Qdrant 1.19.0 on 127.0.0.1:6334`, `Qdrant 1.19.1 on 127.0.0.1:6334`, false},
		{`Qdrant 1.19.0 on 127.0.0.1:6334`, `Qdrant 1.19.0 on 127.0.0.1:6334`, true},
		{`Qdrant 1.19.0 ready`, `Qdrant 1.18.0 ready`, false},                       // a version is words, not a score
		{`listening on 127.0.0.1`, `listening on 127.0.0.2`, false},                 // so is an address
		{`1. doc-a 0.50 ... 2. doc-b 0.40`, `1. doc-b 0.50 x 2. doc-a 0.40`, false}, // order of hits
		{`in ...: 1 added`, `in 18.536s: 1 added`, true},
		{`weight 2.76, japan 2.16`, `weight 2.76, japan 2.16 and more`, true},
	} {
		if got := matchOutput(c.want, c.got); got != c.ok {
			t.Errorf("matchOutput(%q, %q) = %v, want %v", c.want, c.got, got, c.ok)
		}
	}
}
