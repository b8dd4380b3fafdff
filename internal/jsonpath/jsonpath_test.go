package jsonpath

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestAtNamesTheElementOfATypeError(t *testing.T) {
	var docs []string
	for i := 0; i < 600; i++ {
		text := fmt.Sprintf("%q", fmt.Sprint("doc ", i))
		if i == 517 {
			text = "42"
		}
		docs = append(docs, fmt.Sprintf(`{"id": "d%d", "text": %s, "payload": {"tags": ["a", "b"]}}`, i, text))
	}
	type doc struct {
		ID      string         `json:"id"`
		Text    string         `json:"text"`
		Payload map[string]any `json:"payload"`
	}
	for _, tc := range []struct {
		name, body, want string
		v                any
	}{
		{"a number for a string deep in an array", `{"documents": [` + strings.Join(docs, ",") + `]}`, "documents[517].text", &struct{ Documents []doc }{}},
		{"an object for a string", `{"documents": [{"id": "a", "text": {"x": 1}}]}`, "documents[0].text", &struct{ Documents []doc }{}},
		{"a string for an array", `{"documents": "none"}`, "documents", &struct{ Documents []doc }{}},
		{"an element of a nested array", `{"texts": ["a", "b", 3]}`, "texts[2]", &struct{ Texts []string }{}},
		{"an array of arrays", `{"m": [[1, 2], [3, "x"]]}`, "m[1][1]", &struct{ M [][]int }{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := json.Unmarshal([]byte(tc.body), tc.v)
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				t.Fatalf("no type error: %v", err)
			}
			if got := At([]byte(tc.body), te.Offset); got != tc.want {
				t.Errorf("At(offset %d) = %q, want %q", te.Offset, got, tc.want)
			}
		})
	}
}
