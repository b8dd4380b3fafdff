package bm25

import "github.com/twmb/murmur3"

// TokenID is the sparse index Qdrant gives a token: MurmurHash3 x86 32-bit
// of its UTF-8 bytes with seed 0 (github.com/twmb/murmur3; spaolacci's
// package gives the same values but trips the race detector's pointer
// checks), read as a signed 32-bit integer and replaced by its absolute
// value (Rust's i32::unsigned_abs, so -2³¹ becomes 2³¹).
func TokenID(token string) uint32 {
	h := int32(murmur3.SeedSum32(0, []byte(token)))
	if h < 0 {
		return uint32(-int64(h))
	}
	return uint32(h)
}
