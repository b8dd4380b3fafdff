package bm25

import "github.com/spaolacci/murmur3"

// TokenID is the sparse index Qdrant gives a token: MurmurHash3 x86 32-bit
// of its UTF-8 bytes with seed 0, read as a signed 32-bit integer and
// replaced by its absolute value (Rust's i32::unsigned_abs, so -2³¹ becomes
// 2³¹).
func TokenID(token string) uint32 {
	h := int32(murmur3.Sum32WithSeed([]byte(token), 0))
	if h < 0 {
		return uint32(-int64(h))
	}
	return uint32(h)
}
