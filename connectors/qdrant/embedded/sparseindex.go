package embedded

import (
	"math"
	"math/bits"
	"runtime"
	"sort"
	"sync"
)

// Sparse search over the inverted index: window-at-a-time accumulation with
// MaxScore pruning.
//
// Posting lists are kept in slot order. Each core takes a range of slots and
// walks it in windows of `window` slots; in a window every query term's
// postings are summed into a small accumulator that stays in the CPU cache
// (a per-slot accumulator for a million documents would not), and when the
// window is done its documents' scores are final and offered to the
// worker's top k.
//
// MaxScore: each posting list knows the largest weight it ever held, so a
// query term j adds at most ub_j = w_j × max(list_j) to any score. Terms are
// ordered by bound, heaviest first; rest[i] = Σ_{j≥i} ub_j. Once the worker
// holds k results, θ (its k-th score) is a final score, so for the next
// window the terms from the first i with rest[i] < θ on are non-essential:
// a document found only in them cannot reach θ. Only the essential lists
// are read in full; a document they found stays a candidate while its score
// plus what the remaining terms could add reaches θ, and the non-essential
// lists are only probed for the remaining candidates (or skipped over when
// none remain). Pruning removes only documents that provably score below
// the k-th, by a relative margin (pruneMargin) wider than float32 rounding,
// so the top k is exactly the exhaustive one; pruned and exhaustive search
// add each document's terms in the same order, so even the float64 sums
// are identical.
//
// Block-max: each list also knows its largest weight per window-aligned
// block of slots, so in each window a term's bound is w_j × (its max in
// that block), usually far below its global bound: a window where even the
// sum of these cannot reach θ is skipped without reading a posting, and
// in the others fewer terms are essential. The term order stays the
// global-bound order (so sums are added in the same order as without
// pruning); only the cut moves.
//
// Pruning applies when every query weight and every stored weight of the
// space is non-negative (SPLADE's are) and there is no filter (a
// filtered-out document would not enter the top k, so θ could not rise).

// window is the number of slots accumulated at once: 8192 float64 sums
// (64 KiB) plus a bitmap fit in a core's L2 cache.
const window = 8192

// pruneMargin: a bound prunes only when below θ × (1 - pruneMargin).
const pruneMargin = 1e-6

// plannedTerm is one query term, restricted to a worker's slot range.
type plannedTerm struct {
	list []posting
	w    float64
	ub   float64
	bmax []float32 // the list's largest weight per block of slots
}

// planTerms returns the query terms with postings and whether MaxScore may
// prune: ordered by bound, heaviest first, when it may, else in index
// order.
func planTerms(sp *sparseSpace, q sparseVec, weights []float64, n node) ([]plannedTerm, bool) {
	prunable := !sp.negative && n.filter == nil && n.limit > 0
	terms := make([]plannedTerm, 0, len(q.idx))
	for j, idx := range q.idx {
		list := sp.postings[idx]
		if len(list) == 0 {
			continue
		}
		if weights[j] < 0 || math.IsNaN(weights[j]) || math.IsInf(weights[j], 0) {
			prunable = false
		}
		terms = append(terms, plannedTerm{list: list, w: weights[j], ub: weights[j] * float64(sp.maxW[idx]), bmax: sp.blockMax[idx]})
	}
	if prunable {
		sort.SliceStable(terms, func(a, b int) bool { return terms[a].ub > terms[b].ub })
	}
	return terms, prunable
}

// windowBuf is one worker's accumulator, pooled across queries. Between
// windows every sum is 0 and every bit clear: a slot's sum is reset when
// it is offered or dropped.
type windowBuf struct {
	sums  [window]float64
	seen  [window / 64]uint64
	cands []int32 // window offsets
}

var windowPool = sync.Pool{New: func() any { return new(windowBuf) }}

// searchSparseIndex scores every live point of the space against the
// query: on all cores, each worker owning a range of slots, results merged
// into one top k.
func (c *collection) searchSparseIndex(n node, sp *sparseSpace, q sparseVec, weights []float64) []scored {
	terms, prunable := planTerms(sp, q, weights, n)
	prunable = prunable && !c.exhaustive
	nslots := len(c.slots)
	workers := min(runtime.GOMAXPROCS(0), 1+nslots/50000)
	tops := make([]*topK, workers)
	var wg sync.WaitGroup
	// Ranges start on block boundaries, so each window is one block.
	blocks := (nslots + window - 1) / window
	for w := range tops {
		lo, hi := int32(w*blocks/workers*window), int32(min((w+1)*blocks/workers*window, nslots))
		tops[w] = &topK{k: n.limit}
		wg.Add(1)
		go func(t *topK) {
			defer wg.Done()
			c.searchRange(n, terms, prunable, lo, hi, t)
		}(tops[w])
	}
	wg.Wait()
	top := &topK{k: n.limit}
	for _, t := range tops {
		for _, s := range t.h {
			top.offer(s)
		}
	}
	return top.sorted()
}

// searchRange scores the slots [lo, hi) into t, window by window.
func (c *collection) searchRange(n node, all []plannedTerm, prunable bool, lo, hi int32, t *topK) {
	terms := make([]plannedTerm, len(all))
	for j := range all {
		terms[j] = all[j]
		terms[j].list = rangeOf(all[j].list, lo, hi)
	}
	buf := windowPool.Get().(*windowBuf)
	defer windowPool.Put(buf)
	pos := make([]int, len(terms))
	pruned := false
	// rest[j] bounds what terms[j:] can add to a document of the current
	// window: the sum of their block-max bounds.
	rest := make([]float64, len(terms)+1)

	for a := lo; a < hi; a += window {
		b := min(a+window, hi)
		// Terms from e on are non-essential for this window.
		e := len(terms)
		if theta := t.kth(); prunable && theta > 0 {
			blk := int(a / window)
			for j := len(terms) - 1; j >= 0; j-- {
				ub := 0.0
				if bm := terms[j].bmax; blk < len(bm) {
					ub = terms[j].w * float64(bm[blk])
				}
				rest[j] = rest[j+1] + ub
			}
			for e > 0 && rest[e-1] < theta*(1-pruneMargin) {
				e--
			}
			if e < len(terms) {
				pruned = true
			}
			if e == 0 { // even every term together cannot reach θ
				for j := range terms {
					pos[j] = advance(terms[j].list, pos[j], b)
				}
				c.skippedWindows.Add(1)
				continue
			}
		}
		for j := 0; j < e; j++ {
			list, w, p := terms[j].list, terms[j].w, pos[j]
			for ; p < len(list) && list[p].slot < b; p++ {
				// Branchless: sums are 0 outside a window's marked slots.
				r := uint32(list[p].slot - a)
				buf.seen[r/64] |= 1 << (r % 64)
				buf.sums[r] += w * float64(list[p].w)
			}
			pos[j] = p
		}
		if e < len(terms) {
			c.probeNonEssential(buf, terms[e:], rest[e:], pos[e:], a, b, t.kth())
		}
		for wi, word := range buf.seen[:(b-a+63)/64] {
			for word != 0 {
				r := int32(wi*64) + int32(bits.TrailingZeros64(word))
				word &= word - 1
				c.offerSlot(n, t, a+r, buf.sums[r])
				buf.sums[r] = 0
			}
			buf.seen[wi] = 0
		}
	}
	if pruned {
		c.prunedRanges.Add(1)
	}
}

// probeNonEssential adds the non-essential terms to the window's documents
// that can still reach θ and moves every term's cursor past the window.
// rest[i] is the bound of terms[i:]. A term with about as many postings in
// the window as there are documents left is read in full (a bitmap test per
// posting); a longer one is probed only at the candidates, after dropping
// the documents whose score plus rest cannot reach θ — they are unmarked,
// so every offered score is exact.
func (c *collection) probeNonEssential(buf *windowBuf, terms []plannedTerm, rest []float64, pos []int, a, b int32, theta float64) {
	cut := theta * (1 - pruneMargin)
	words := buf.seen[:(b-a+63)/64]
	live := 0
	for _, word := range words {
		live += bits.OnesCount64(word)
	}
	listed := false // buf.cands holds exactly the marked documents
	for j := range terms {
		list, w, p := terms[j].list, terms[j].w, pos[j]
		end := advance(list, p, b)
		pos[j] = end
		switch {
		case live == 0 || end == p:
		case end-p <= 4*live:
			// Branchless: an unmarked document gains 0 × (w·x) = 0 (the
			// product is finite and non-negative when pruning applies),
			// a marked one exactly w·x.
			for _, post := range list[p:end] {
				r := uint32(post.slot - a)
				m := float64(buf.seen[r/64] >> (r % 64) & 1)
				buf.sums[r] += m * (w * float64(post.w))
			}
		default:
			if !listed {
				buf.cands = buf.cands[:0]
				for wi, word := range words {
					for word != 0 {
						buf.cands = append(buf.cands, int32(wi*64+bits.TrailingZeros64(word)))
						word &= word - 1
					}
				}
				listed = true
			}
			kept := buf.cands[:0]
			for _, r := range buf.cands {
				if buf.sums[r]+rest[j] >= cut {
					kept = append(kept, r)
				} else {
					buf.seen[r/64] &^= 1 << (r % 64)
					buf.sums[r] = 0
				}
			}
			buf.cands, live = kept, len(kept)
			q := p
			for _, r := range buf.cands {
				q = advance(list[:end], q, a+r)
				if q < end && list[q].slot == a+r {
					buf.sums[r] += w * float64(list[q].w)
				}
			}
		}
	}
}

// offerSlot offers a scored slot to t, skipping deleted points, scores
// under the threshold and points the filter rejects.
func (c *collection) offerSlot(n node, t *topK, slot int32, sum float64) {
	s := float32(sum)
	if len(t.h) == t.k && t.k > 0 && s < t.h[0].score {
		return // cannot enter: cheaper than the heap's comparison
	}
	if n.threshold != nil && s < *n.threshold {
		return
	}
	p := c.slots[slot]
	if p == nil || !n.filter.match(p) {
		return
	}
	t.offer(scored{p: p, score: s})
}

// kth is the k-th best score held, once k are held: a final score, so
// anything that cannot reach it cannot enter; 0 before.
func (t *topK) kth() float64 {
	if t.k <= 0 || len(t.h) < t.k || t.ascending {
		return 0
	}
	return float64(t.h[0].score)
}

// rangeOf returns the part of a slot-ordered posting list in [lo, hi).
func rangeOf(list []posting, lo, hi int32) []posting {
	a := sort.Search(len(list), func(i int) bool { return list[i].slot >= lo })
	b := a + sort.Search(len(list)-a, func(i int) bool { return list[a+i].slot >= hi })
	return list[a:b]
}

// advance returns the first position at or after p whose slot is >= slot,
// galloping: cheap both for the next posting and for a far one.
func advance(list []posting, p int, slot int32) int {
	if p >= len(list) || list[p].slot >= slot {
		return p
	}
	step := 1
	lo := p
	for p+step < len(list) && list[p+step].slot < slot {
		lo = p + step
		step *= 2
	}
	hi := min(p+step, len(list)-1) + 1
	return lo + 1 + sort.Search(hi-lo-1, func(i int) bool { return list[lo+1+i].slot >= slot })
}
