package eval

import (
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/spladeq/spladeq/splade"
)

type point struct{ x, y float64 }

type series struct {
	label  string
	color  string
	points []point
	dashed bool
}

// WriteSVG draws two panels: nDCG@10 against alpha, the dense share of
// weighted fusion over sparse and dense (with the other settings of one
// and all three signals as reference lines), and nDCG@10 against index
// size (average non-zeros per document) over the pruning levels.
func WriteSVG(w io.Writer, rep *Report) error {
	var alpha series
	alpha.label, alpha.color = "weighted fusion", "#1f77b4"
	refs := map[string]float64{}
	size := map[string]*series{
		"sparse": {label: "sparse", color: "#d62728"},
		"hybrid": {label: "default", color: "#2ca02c"},
	}
	sparseDense := func(r Result) bool { return strings.Join(r.Signals, "+") == "sparse+dense" }
	for _, r := range rep.Results {
		switch {
		case r.Fusion == "weighted" && sparseDense(r) && r.Pruning == (splade.Pruning{}):
			if sum := r.Weights["sparse"] + r.Weights["dense"]; sum > 0 {
				alpha.points = append(alpha.points, point{r.Weights["dense"] / sum, r.NDCG10})
			}
		case r.Pruning == (splade.Pruning{}) && (len(r.Signals) == 1 || r.Default || (len(r.Signals) == 3 && r.Fusion == "dbsf")):
			refs[r.Name] = r.NDCG10
		}
		if r.Mode() == "sparse" {
			size["sparse"].points = append(size["sparse"].points, point{r.AvgNNZ, r.NDCG10})
		} else if r.Default || (r.Pruning != (splade.Pruning{}) && len(r.Signals) > 1) {
			size["hybrid"].points = append(size["hybrid"].points, point{r.AvgNNZ, r.NDCG10})
		}
	}
	sort.Slice(alpha.points, func(i, j int) bool { return alpha.points[i].x < alpha.points[j].x })
	var left []series
	if len(alpha.points) > 0 {
		left = append(left, alpha)
	}
	colors := []string{"#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"}
	var names []string
	for n := range refs {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		left = append(left, series{label: n, color: colors[i%len(colors)], dashed: true, points: []point{{0, refs[n]}, {1, refs[n]}}})
	}
	var right []series
	for _, k := range []string{"sparse", "hybrid"} {
		s := size[k]
		sort.Slice(s.points, func(i, j int) bool { return s.points[i].x < s.points[j].x })
		if len(s.points) > 1 {
			right = append(right, *s)
		}
	}
	const width, height = 1000, 420
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="15" text-anchor="middle">spladeq eval: %s (%d documents)</text>`+"\n", width/2, html.EscapeString(rep.Dataset), rep.Documents)
	panel(&b, 60, 50, 400, 300, "alpha (dense weight)", "nDCG@10", left, 0, 1)
	xmin, xmax := 0.0, 1.0
	for i, s := range right {
		for j, p := range s.points {
			if i == 0 && j == 0 || p.x < xmin {
				xmin = p.x
			}
			xmax = math.Max(xmax, p.x)
		}
	}
	panel(&b, 560, 50, 400, 300, "index size: average non-zeros per document", "nDCG@10", right, xmin*0.95, xmax*1.05)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func panel(b *strings.Builder, x0, y0, w, h float64, xlabel, ylabel string, ss []series, xmin, xmax float64) {
	fmt.Fprintf(b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", x0, y0, w, h)
	if len(ss) == 0 {
		fmt.Fprintf(b, `<text x="%g" y="%g" text-anchor="middle" fill="#888">no data (run with --sweep)</text>`+"\n", x0+w/2, y0+h/2)
		return
	}
	ymin, ymax := 1.0, 0.0
	for _, s := range ss {
		for _, p := range s.points {
			ymin, ymax = math.Min(ymin, p.y), math.Max(ymax, p.y)
		}
	}
	pad := math.Max((ymax-ymin)*0.1, 0.01)
	ymin, ymax = math.Max(0, ymin-pad), math.Min(1, ymax+pad)
	if xmax <= xmin {
		xmax = xmin + 1
	}
	px := func(x float64) float64 { return x0 + (x-xmin)/(xmax-xmin)*w }
	py := func(y float64) float64 { return y0 + h - (y-ymin)/(ymax-ymin)*h }
	for i := 0; i <= 4; i++ {
		yv := ymin + (ymax-ymin)*float64(i)/4
		xv := xmin + (xmax-xmin)*float64(i)/4
		fmt.Fprintf(b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#eee"/><text x="%g" y="%.1f" text-anchor="end">%.3f</text>`+"\n", x0, py(yv), x0+w, py(yv), x0-4, py(yv)+4, yv)
		fmt.Fprintf(b, `<text x="%.1f" y="%g" text-anchor="middle">%.3g</text>`+"\n", px(xv), y0+h+16, xv)
	}
	fmt.Fprintf(b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`+"\n", x0+w/2, y0+h+34, html.EscapeString(xlabel))
	fmt.Fprintf(b, `<text x="%g" y="%g" text-anchor="middle" transform="rotate(-90 %g %g)">%s</text>`+"\n", x0-42, y0+h/2, x0-42, y0+h/2, ylabel)
	for i, s := range ss {
		var pts []string
		for _, p := range s.points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p.x), py(p.y)))
		}
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), s.color, dash)
		if !s.dashed {
			for _, p := range s.points {
				fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px(p.x), py(p.y), s.color)
			}
		}
		ly := y0 + 14 + float64(i)*15
		fmt.Fprintf(b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"%s/><text x="%g" y="%g">%s</text>`+"\n",
			x0+w-170, ly-4, x0+w-150, ly-4, s.color, dash, x0+w-145, ly, html.EscapeString(s.label))
	}
}
