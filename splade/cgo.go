package splade

// The daulet/tokenizers package links against libtokenizers.a with
// "-ltokenizers" and no search path. `make setup` builds that archive into
// .deps/lib at the repository root; naming the directory here lets a plain
// `go build ./...` or `go test ./...` link without CGO_LDFLAGS. Linker flags
// from every package of a binary are combined, so this one -L serves the
// tokenizers package too. Outside this repository, set CGO_LDFLAGS instead.

// #cgo LDFLAGS: -L${SRCDIR}/../.deps/lib
import "C"
