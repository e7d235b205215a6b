# Edgeway — developer entry points. Only Go is needed.
SHELL := /bin/bash
GO ?= go
BIN := bin
DATA_DIR ?= .edgeway
# Every module of the workspace, as package patterns.
PKGS = $(shell $(GO) list -m -f '{{.Path}}/...')
TEST_TIMEOUT ?= 25m

.PHONY: run serve build kube-apiserver fuzz test vet generate check-generated fmt-check unit fuzz bench clean

## run: two local edge clusters + every service in one process (embedded stores under $(DATA_DIR)), clusters registered
run: build
	$(GO) build -o $(BIN)/dev-run edgeway.dev/tests/cmd/dev-run
	$(BIN)/dev-run --data-dir $(DATA_DIR) --edgeway $(BIN)/edgeway

## serve: only Edgeway (no edge clusters)
serve: build
	$(BIN)/edgeway serve --target=all --dev --data-dir $(DATA_DIR)

## build: build the launcher and the CLI into ./bin
build:
	$(GO) build -o $(BIN)/edgeway edgeway.dev/services/edgeway
	$(GO) build -o $(BIN)/edgewayctl edgeway.dev/services/edgewayctl

## generate: regenerate protobuf code from api-spec/proto
generate:
	scripts/generate.sh

## check-generated: fail when committed generated code is stale
check-generated:
	scripts/generate.sh --check

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go') ); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

## test: generated-code check, gofmt, go vet and every test of every module
## (the first run builds kube-apiserver from source into ~/.cache/edgeway for the edge-cluster tests)
test: check-generated fmt-check vet kube-apiserver
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)
	$(MAKE) fuzz

## fuzz: run every parser's fuzz target for FUZZTIME (corpus in each package's testdata/fuzz)
FUZZTIME ?= 8s
FUZZ_TARGETS = \
	edgeway.dev/services/clusterregistry:FuzzCheckKubeconfig \
	edgeway.dev/common/rest:FuzzCheckTarGz \
	edgeway.dev/common/rest:FuzzDecodeObject \
	edgeway.dev/services/orchestrator/render:FuzzRender \
	edgeway.dev/common/auth:FuzzVerify \
	edgeway.dev/services/edgewayctl/internal/manifest:FuzzParse
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; echo "fuzz $$fn ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

## kube-apiserver: build (or find cached) the kube-apiserver the edge-cluster tests and make run use
kube-apiserver:
	scripts/build-kube-apiserver.sh

## unit: tests without the slow end-to-end packages
unit:
	$(GO) test -count=1 $(filter-out edgeway.dev/tests/...,$(PKGS))

## bench: Edgeway instantiating 25 objects onto 1, 4 and 16 real clusters vs plain server-side apply
## (several minutes; prints a table and where the JSON went; extra flags: BENCH_ARGS="-keep -server-arg=...")
bench:
	$(GO) run edgeway.dev/tests/bench -runs 5 -n 1,4,16 $(BENCH_ARGS)

clean:
	rm -rf $(BIN)
