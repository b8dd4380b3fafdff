package embedded

import (
	"sort"
	"strings"

	pb "github.com/qdrant/go-client/qdrant"
	bolt "go.etcd.io/bbolt"
)

// bucketIndexes holds, per collection, its keyword-indexed payload keys
// (newline-separated), so the index is rebuilt when the store opens.
var bucketIndexes = []byte("payload_indexes")

// keywordIndex maps an indexed payload key's string values to the slots of
// the live points holding them. A filter whose must clause matches an
// indexed key exactly reads its candidates here instead of scanning every
// point, as Qdrant's keyword index serves it: a document's chunks by doc_id,
// a sync job's points by unit.
type keywordIndex map[string]map[int32]struct{} // value → slots

// eqCond is a must condition matching key against any of values.
type eqCond struct {
	key    string
	values []string
}

// mustKeywords returns a filter's top-level must conditions that match a
// key's string value exactly (keyword or keywords).
func mustKeywords(f *pb.Filter) []eqCond {
	var out []eqCond
	for _, c := range f.GetMust() {
		fc := c.GetField()
		if fc == nil || fc.GetRange() != nil || fc.IsEmpty != nil {
			continue
		}
		switch m := fc.GetMatch().GetMatchValue().(type) {
		case *pb.Match_Keyword:
			out = append(out, eqCond{fc.GetKey(), []string{m.Keyword}})
		case *pb.Match_Keywords:
			out = append(out, eqCond{fc.GetKey(), m.Keywords.GetStrings()})
		}
	}
	return out
}

// stringValues are the string values of a payload key (array elements
// included), as the index holds them.
func stringValues(p *point, key string) []string {
	var out []string
	for _, v := range lookup(p.payload, key) {
		if s, ok := v.GetKind().(*pb.Value_StringValue); ok {
			out = append(out, s.StringValue)
		}
	}
	return out
}

// indexPoint adds (add) or removes a point's values in every keyword
// index. The caller holds c.mu.
func (c *collection) indexPoint(p *point, slot int32, add bool) {
	for key, idx := range c.keywords {
		for _, v := range stringValues(p, key) {
			slots := idx[v]
			if add {
				if slots == nil {
					slots = map[int32]struct{}{}
					idx[v] = slots
				}
				slots[slot] = struct{}{}
			} else if slots != nil {
				delete(slots, slot)
				if len(slots) == 0 {
					delete(idx, v)
				}
			}
		}
	}
}

// addKeywordIndex indexes key over the live points. The caller holds c.mu.
func (c *collection) addKeywordIndex(key string) {
	if _, ok := c.keywords[key]; ok {
		return
	}
	idx := keywordIndex{}
	c.keywords[key] = idx
	for slot, p := range c.slots {
		if p == nil {
			continue
		}
		for _, v := range stringValues(p, key) {
			if idx[v] == nil {
				idx[v] = map[int32]struct{}{}
			}
			idx[v][int32(slot)] = struct{}{}
		}
	}
}

// matching returns the live points f matches (all when f is nil), in slot
// order: the candidates of its most selective indexed must condition when
// it has one, else every point. The caller holds c.mu.
func (c *collection) matching(f *filter) []*point {
	var best []int32
	found := false
	if f != nil {
		for _, e := range f.eq {
			idx, ok := c.keywords[e.key]
			if !ok {
				continue
			}
			n := 0
			for _, v := range e.values {
				n += len(idx[v])
			}
			if found && n >= len(best) {
				continue
			}
			seen := make(map[int32]struct{}, n)
			cand := make([]int32, 0, n)
			for _, v := range e.values {
				for slot := range idx[v] {
					if _, dup := seen[slot]; !dup {
						seen[slot] = struct{}{}
						cand = append(cand, slot)
					}
				}
			}
			best, found = cand, true
		}
	}
	var out []*point
	if !found {
		for _, p := range c.slots {
			if p != nil && f.match(p) {
				out = append(out, p)
			}
		}
		return out
	}
	sort.Slice(best, func(a, b int) bool { return best[a] < best[b] })
	for _, slot := range best {
		if p := c.slots[slot]; p != nil && f.match(p) {
			out = append(out, p)
		}
	}
	return out
}

// createKeywordIndex indexes a payload key of a collection and records it,
// so the index is rebuilt when the store opens.
func (s *Store) createKeywordIndex(name, key string) error {
	c, err := s.get(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.keywords[key]; ok {
		return nil
	}
	keys := []string{key}
	for k := range c.keywords {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketIndexes)
		if err != nil {
			return err
		}
		return b.Put([]byte(name), []byte(strings.Join(keys, "\n")))
	})
	if err != nil {
		return err
	}
	c.addKeywordIndex(key)
	return nil
}

// indexedKeys reads the keyword-indexed keys recorded for a collection.
func indexedKeys(tx *bolt.Tx, name string) []string {
	b := tx.Bucket(bucketIndexes)
	if b == nil {
		return nil
	}
	v := b.Get([]byte(name))
	if len(v) == 0 {
		return nil
	}
	return strings.Split(string(v), "\n")
}
