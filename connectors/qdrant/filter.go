package qdrant

import (
	"errors"
	"fmt"
	"math"

	"github.com/spladeq/spladeq/api"

	qc "github.com/qdrant/go-client/qdrant"
)

// Filter selects points by payload (the API's wire type).
type Filter = api.Filter

// Condition tests one payload key.
type Condition = api.Condition

// Range bounds a numeric payload value; nil bounds are open.
type Range = api.Range

// ValidateFilter reports every bad condition of f, naming its place
// ("must[1]"). A nil filter is valid.
func ValidateFilter(f *Filter) error {
	_, err := filterProto(f)
	return err
}

func filterProto(f *Filter) (*qc.Filter, error) {
	if f == nil {
		return nil, nil
	}
	var errs []error
	conv := func(where string, cs []Condition) []*qc.Condition {
		out := make([]*qc.Condition, 0, len(cs))
		for i, c := range cs {
			pc, err := conditionProto(c)
			if err != nil {
				errs = append(errs, fmt.Errorf("filter.%s[%d]: %v", where, i, err))
				continue
			}
			out = append(out, pc)
		}
		return out
	}
	pf := &qc.Filter{Must: conv("must", f.Must), Should: conv("should", f.Should), MustNot: conv("must_not", f.MustNot)}
	return pf, errors.Join(errs...)
}

func conditionProto(c Condition) (*qc.Condition, error) {
	if c.Key == "" {
		return nil, errors.New("key: must not be empty")
	}
	if (c.Match == nil) == (c.Range == nil) {
		return nil, fmt.Errorf("key %q: exactly one of match and range must be set", c.Key)
	}
	if c.Range != nil {
		r := c.Range
		for _, b := range []*float64{r.Gt, r.Gte, r.Lt, r.Lte} {
			if b != nil && (math.IsNaN(*b) || math.IsInf(*b, 0)) {
				return nil, fmt.Errorf("key %q: range bound %v is not a finite number", c.Key, *b)
			}
		}
		return qc.NewRange(c.Key, &qc.Range{Gt: r.Gt, Gte: r.Gte, Lt: r.Lt, Lte: r.Lte}), nil
	}
	switch m := c.Match.(type) {
	case string:
		return qc.NewMatchKeyword(c.Key, m), nil
	case bool:
		return qc.NewMatchBool(c.Key, m), nil
	case int:
		return qc.NewMatchInt(c.Key, int64(m)), nil
	case int64:
		return qc.NewMatchInt(c.Key, m), nil
	case float64:
		// JSON numbers decode as float64; only whole numbers can match.
		if m != math.Trunc(m) || math.Abs(m) > 1<<53 {
			return nil, fmt.Errorf("key %q: match %v is not an integer; use range for other numbers", c.Key, m)
		}
		return qc.NewMatchInt(c.Key, int64(m)), nil
	case []string:
		return qc.NewMatchKeywords(c.Key, m...), nil
	case []int64:
		return qc.NewMatchInts(c.Key, m...), nil
	case []any:
		var strs []string
		var ints []int64
		for i, e := range m {
			switch v := e.(type) {
			case string:
				strs = append(strs, v)
			case float64:
				if v != math.Trunc(v) {
					return nil, fmt.Errorf("key %q: match[%d] %v is not an integer", c.Key, i, v)
				}
				ints = append(ints, int64(v))
			case int64:
				ints = append(ints, v)
			case int:
				ints = append(ints, int64(v))
			default:
				return nil, fmt.Errorf("key %q: match[%d] has type %T; want strings or integers", c.Key, i, e)
			}
		}
		if len(strs) > 0 && len(ints) > 0 {
			return nil, fmt.Errorf("key %q: match list mixes strings and integers", c.Key)
		}
		if len(ints) > 0 {
			return qc.NewMatchInts(c.Key, ints...), nil
		}
		return qc.NewMatchKeywords(c.Key, strs...), nil
	default:
		return nil, fmt.Errorf("key %q: match has type %T; want a string, integer, bool or a list of strings or integers", c.Key, c.Match)
	}
}
