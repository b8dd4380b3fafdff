package api

// Filter selects points by payload. All Must conditions, at least one
// Should condition (when any) and no MustNot condition must hold.
type Filter struct {
	Must    []Condition `json:"must,omitempty"`
	Should  []Condition `json:"should,omitempty"`
	MustNot []Condition `json:"must_not,omitempty"`
}

// Condition tests one payload key: Match for equality (a string, integer or
// bool; a list of strings or integers matches any of them), Range for
// numbers. Exactly one of Match and Range is set.
type Condition struct {
	Key   string `json:"key"`
	Match any    `json:"match,omitempty"`
	Range *Range `json:"range,omitempty"`
}

// Range bounds a numeric payload value; nil bounds are open.
type Range struct {
	Gt  *float64 `json:"gt,omitempty"`
	Gte *float64 `json:"gte,omitempty"`
	Lt  *float64 `json:"lt,omitempty"`
	Lte *float64 `json:"lte,omitempty"`
}
