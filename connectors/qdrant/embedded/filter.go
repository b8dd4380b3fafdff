package embedded

import (
	"strings"

	pb "github.com/qdrant/go-client/qdrant"
)

// cond is a compiled filter condition.
type cond func(p *point) bool

// filter is a compiled Qdrant filter; a nil *filter matches everything.
// eq are its top-level must conditions of exact string matches, which a
// keyword index can answer.
type filter struct {
	m  cond
	eq []eqCond
}

func (f *filter) match(p *point) bool { return f == nil || f.m(p) }

// and combines filters; nil operands are dropped.
func and(fs ...*filter) *filter {
	var parts []*filter
	for _, f := range fs {
		if f != nil {
			parts = append(parts, f)
		}
	}
	switch len(parts) {
	case 0:
		return nil
	case 1:
		return parts[0]
	}
	var eq []eqCond
	for _, f := range parts {
		eq = append(eq, f.eq...)
	}
	return &filter{eq: eq, m: func(p *point) bool {
		for _, f := range parts {
			if !f.m(p) {
				return false
			}
		}
		return true
	}}
}

// compileFilter checks a filter and compiles it. Conditions the embedded
// server does not implement are refused with InvalidArgument, never
// silently ignored.
func compileFilter(f *pb.Filter) (*filter, error) {
	if f == nil {
		return nil, nil
	}
	compileAll := func(cs []*pb.Condition) ([]cond, error) {
		out := make([]cond, len(cs))
		for i, c := range cs {
			var err error
			if out[i], err = compileCondition(c); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	must, err := compileAll(f.GetMust())
	if err != nil {
		return nil, err
	}
	should, err := compileAll(f.GetShould())
	if err != nil {
		return nil, err
	}
	mustNot, err := compileAll(f.GetMustNot())
	if err != nil {
		return nil, err
	}
	var minShould []cond
	minCount := 0
	if ms := f.GetMinShould(); ms != nil {
		if minShould, err = compileAll(ms.GetConditions()); err != nil {
			return nil, err
		}
		minCount = int(ms.GetMinCount())
	}
	return &filter{eq: mustKeywords(f), m: func(p *point) bool {
		for _, c := range must {
			if !c(p) {
				return false
			}
		}
		for _, c := range mustNot {
			if c(p) {
				return false
			}
		}
		if len(should) > 0 {
			ok := false
			for _, c := range should {
				if c(p) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
		if minShould != nil {
			n := 0
			for _, c := range minShould {
				if c(p) {
					n++
				}
			}
			if n < minCount {
				return false
			}
		}
		return true
	}}, nil
}

func compileCondition(c *pb.Condition) (cond, error) {
	switch x := c.GetConditionOneOf().(type) {
	case *pb.Condition_Field:
		return compileField(x.Field)
	case *pb.Condition_Filter:
		f, err := compileFilter(x.Filter)
		if err != nil {
			return nil, err
		}
		return f.match, nil
	case *pb.Condition_HasId:
		keys := map[string]bool{}
		for _, id := range x.HasId.GetHasId() {
			k, err := pointKey(id)
			if err != nil {
				return nil, invalidf("Wrong input: has_id: %v", err)
			}
			keys[k] = true
		}
		return func(p *point) bool { return keys[p.key] }, nil
	case *pb.Condition_IsEmpty:
		key := x.IsEmpty.GetKey()
		return func(p *point) bool { return isEmpty(lookup(p.payload, key)) }, nil
	case *pb.Condition_IsNull:
		key := x.IsNull.GetKey()
		return func(p *point) bool { return isNull(p.payload, key) }, nil
	case *pb.Condition_HasVector:
		name := x.HasVector.GetHasVector()
		return func(p *point) bool {
			_, d := p.dense[name]
			_, s := p.sparse[name]
			return d || s
		}, nil
	default:
		return nil, invalidf("Wrong input: filter condition %T is not supported by the embedded server", x)
	}
}

func compileField(fc *pb.FieldCondition) (cond, error) {
	key := fc.GetKey()
	if key == "" {
		return nil, invalidf("Wrong input: field condition has an empty key")
	}
	var parts []func(vals []*pb.Value) bool
	if m := fc.GetMatch(); m != nil {
		mf, err := compileMatch(key, m)
		if err != nil {
			return nil, err
		}
		parts = append(parts, mf)
	}
	if r := fc.GetRange(); r != nil {
		parts = append(parts, func(vals []*pb.Value) bool {
			for _, v := range vals {
				x, ok := number(v)
				if !ok {
					continue
				}
				if (r.Lt == nil || x < *r.Lt) && (r.Lte == nil || x <= *r.Lte) &&
					(r.Gt == nil || x > *r.Gt) && (r.Gte == nil || x >= *r.Gte) {
					return true
				}
			}
			return false
		})
	}
	if fc.IsEmpty != nil {
		want := fc.GetIsEmpty()
		parts = append(parts, func(vals []*pb.Value) bool { return isEmpty(vals) == want })
	}
	if fc.GetGeoBoundingBox() != nil || fc.GetGeoRadius() != nil || fc.GetGeoPolygon() != nil ||
		fc.GetValuesCount() != nil || fc.GetDatetimeRange() != nil || fc.IsNull != nil {
		return nil, invalidf("Wrong input: field condition on %q uses a kind the embedded server does not support (geo, values_count, datetime_range, is_null)", key)
	}
	if len(parts) == 0 {
		return nil, invalidf("Wrong input: field condition on %q has no match or range", key)
	}
	return func(p *point) bool {
		vals := lookup(p.payload, key)
		for _, f := range parts {
			if !f(vals) {
				return false
			}
		}
		return true
	}, nil
}

func compileMatch(key string, m *pb.Match) (func([]*pb.Value) bool, error) {
	anyOf := func(pred func(v *pb.Value) bool) func([]*pb.Value) bool {
		return func(vals []*pb.Value) bool {
			for _, v := range vals {
				if pred(v) {
					return true
				}
			}
			return false
		}
	}
	switch x := m.GetMatchValue().(type) {
	case *pb.Match_Keyword:
		return anyOf(func(v *pb.Value) bool {
			s, ok := v.GetKind().(*pb.Value_StringValue)
			return ok && s.StringValue == x.Keyword
		}), nil
	case *pb.Match_Integer:
		return anyOf(func(v *pb.Value) bool {
			i, ok := v.GetKind().(*pb.Value_IntegerValue)
			return ok && i.IntegerValue == x.Integer
		}), nil
	case *pb.Match_Boolean:
		return anyOf(func(v *pb.Value) bool {
			b, ok := v.GetKind().(*pb.Value_BoolValue)
			return ok && b.BoolValue == x.Boolean
		}), nil
	case *pb.Match_Keywords:
		set := map[string]bool{}
		for _, s := range x.Keywords.GetStrings() {
			set[s] = true
		}
		return anyOf(func(v *pb.Value) bool { s, ok := v.GetKind().(*pb.Value_StringValue); return ok && set[s.StringValue] }), nil
	case *pb.Match_Integers:
		set := map[int64]bool{}
		for _, i := range x.Integers.GetIntegers() {
			set[i] = true
		}
		return anyOf(func(v *pb.Value) bool {
			i, ok := v.GetKind().(*pb.Value_IntegerValue)
			return ok && set[i.IntegerValue]
		}), nil
	case *pb.Match_ExceptKeywords:
		set := map[string]bool{}
		for _, s := range x.ExceptKeywords.GetStrings() {
			set[s] = true
		}
		return func(vals []*pb.Value) bool {
			for _, v := range vals {
				if s, ok := v.GetKind().(*pb.Value_StringValue); ok && set[s.StringValue] {
					return false
				}
			}
			return true
		}, nil
	case *pb.Match_ExceptIntegers:
		set := map[int64]bool{}
		for _, i := range x.ExceptIntegers.GetIntegers() {
			set[i] = true
		}
		return func(vals []*pb.Value) bool {
			for _, v := range vals {
				if i, ok := v.GetKind().(*pb.Value_IntegerValue); ok && set[i.IntegerValue] {
					return false
				}
			}
			return true
		}, nil
	default:
		return nil, invalidf("Wrong input: match on %q of kind %T is not supported by the embedded server (it needs a full-text index)", key, x)
	}
}

// lookup returns the values at a dotted payload path, flattening arrays as
// Qdrant does ("a.b" looks into every element of an array a).
func lookup(payload map[string]*pb.Value, key string) []*pb.Value {
	parts := strings.Split(key, ".")
	cur := []*pb.Value{}
	if v, ok := payload[strings.TrimSuffix(parts[0], "[]")]; ok {
		cur = append(cur, v)
	}
	for _, part := range parts[1:] {
		part = strings.TrimSuffix(part, "[]")
		var next []*pb.Value
		for _, v := range flatten(cur) {
			if s, ok := v.GetKind().(*pb.Value_StructValue); ok {
				if f, ok := s.StructValue.GetFields()[part]; ok {
					next = append(next, f)
				}
			}
		}
		cur = next
	}
	return flatten(cur)
}

func flatten(vals []*pb.Value) []*pb.Value {
	var out []*pb.Value
	for _, v := range vals {
		if l, ok := v.GetKind().(*pb.Value_ListValue); ok {
			out = append(out, l.ListValue.GetValues()...)
		} else {
			out = append(out, v)
		}
	}
	return out
}

func isEmpty(vals []*pb.Value) bool {
	for _, v := range vals {
		if _, null := v.GetKind().(*pb.Value_NullValue); !null {
			return false
		}
	}
	return true
}

func isNull(payload map[string]*pb.Value, key string) bool {
	for _, v := range lookup(payload, key) {
		if _, null := v.GetKind().(*pb.Value_NullValue); null {
			return true
		}
	}
	return false
}

// number returns a payload value as float64 when it is numeric.
func number(v *pb.Value) (float64, bool) {
	switch x := v.GetKind().(type) {
	case *pb.Value_IntegerValue:
		return float64(x.IntegerValue), true
	case *pb.Value_DoubleValue:
		return x.DoubleValue, true
	}
	return 0, false
}
