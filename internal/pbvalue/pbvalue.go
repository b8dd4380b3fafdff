// Package pbvalue turns Qdrant's protobuf Values (payloads, Document
// options) into plain Go values, for the connector and the embedded server
// alike.
package pbvalue

import qc "github.com/qdrant/go-client/qdrant"

// Map converts a map of Values; nil stays nil.
func Map(m map[string]*qc.Value) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = Go(v)
	}
	return out
}

// Go converts one Value: strings, int64, float64, bools, nested maps and
// lists; null (or no kind) is nil.
func Go(v *qc.Value) any {
	switch x := v.GetKind().(type) {
	case *qc.Value_StringValue:
		return x.StringValue
	case *qc.Value_IntegerValue:
		return x.IntegerValue
	case *qc.Value_DoubleValue:
		return x.DoubleValue
	case *qc.Value_BoolValue:
		return x.BoolValue
	case *qc.Value_StructValue:
		return Map(x.StructValue.GetFields())
	case *qc.Value_ListValue:
		vals := x.ListValue.GetValues()
		out := make([]any, len(vals))
		for i, e := range vals {
			out[i] = Go(e)
		}
		return out
	}
	return nil
}
