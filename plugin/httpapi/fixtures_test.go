package httpapi

// The repository's random-weight test models, relative to its root: for
// tests only, never a default (the defaults are the real models that
// `make models` installs).
const (
	fixtureSparseModel = "splade/testdata/models/bert-tiny"
	fixtureDenseModel  = "plugin/testdata/models/dense-tiny"
)
