// Package vecmath holds the vector arithmetic that the encoder and the
// embedded store share.
package vecmath

import "math"

// Normalize scales v to unit L2 length in place, summing in float64; a zero
// vector is left as it is.
func Normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := 1 / math.Sqrt(s)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
}
