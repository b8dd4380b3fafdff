// Package jsonpath names the element of a JSON document at a byte offset,
// as "documents[517].text", so an error the standard decoder reports by
// offset (json.UnmarshalTypeError) can point at the element a person sees.
package jsonpath

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

type frame struct {
	array     bool
	index     int    // current element of an array; -1 before the first
	key       string // current key of an object
	expectKey bool
}

// At returns the path of the value that ends at or contains offset (as
// json.UnmarshalTypeError.Offset counts: bytes read when the error was
// found), or "" when data does not reach it or is not JSON up to there.
func At(data []byte, offset int64) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	// begin marks the start of a value in the innermost container.
	begin := func() {
		if n := len(stack); n > 0 && stack[n-1].array {
			stack[n-1].index++
		}
	}
	// end marks the end of a value: an object wants its next key.
	end := func() {
		if n := len(stack); n > 0 && !stack[n-1].array {
			stack[n-1].expectKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				begin()
				if dec.InputOffset() >= offset {
					return render(stack)
				}
				stack = append(stack, &frame{array: d == '[', index: -1, expectKey: d == '{'})
			default:
				stack = stack[:len(stack)-1]
				end()
			}
			continue
		}
		if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].expectKey {
			stack[n-1].key, stack[n-1].expectKey = tok.(string), false
			continue
		}
		begin()
		if dec.InputOffset() >= offset {
			return render(stack)
		}
		end()
	}
}

func render(stack []*frame) string {
	var b strings.Builder
	for _, f := range stack {
		if f.array {
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(f.key)
	}
	return b.String()
}
