# imdsguard: the two commands of the quick start are `make demo` and `make test`.
GO ?= go
# Number of random cases for the differential test of the reachability engine.
IMDSGUARD_DIFF_CASES ?= 200000
export IMDSGUARD_DIFF_CASES

.PHONY: all build demo test vet lint fuzz perf perf-proxy docs
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

all: build

build:
	$(GO) build -o bin/imdsguard ./cmd/imdsguard
	$(GO) build -o bin/imdsguard-proxy ./cmd/imdsguard-proxy

# Run the main job on the bundled examples. Exit code 1 means findings, as expected.
demo:
	$(GO) run ./cmd/imdsguard scan ./examples || test $$? -eq 1

# Every test: vet, gofmt, unit and integration tests (hack/crds.sh and
# hack/gator.sh fetch the CRDs and build the gator CLI the generate tests use;
# hack/helm.sh builds the helm CLI that internal/deploy renders the chart with;
# hack/chromium.sh installs the browser the HTML report is tested in),
# the 200,000-case
# differential test of the engine, and short runs of every fuzz target.
test: vet lint
	@test -z "$$(gofmt -l cmd internal hack)" || { gofmt -l cmd internal hack; echo "gofmt needed"; exit 1; }
	hack/netns-tools.sh
	hack/chromium.sh
	assets="$$(hack/controlplane.sh)" && hack/crds.sh >/dev/null && hack/gator.sh >/dev/null && hack/helm.sh >/dev/null && KUBEBUILDER_ASSETS="$$assets" $(GO) test -count=1 -timeout 45m ./...
	hack/fuzz-smoke.sh 20000x

vet:
	$(GO) vet ./...

lint:
	$(GO) run $(STATICCHECK) ./...

fuzz:
	hack/fuzz-smoke.sh 500000x

# Benchmarks and the performance targets of docs/performance.md.
perf:
	hack/perf.sh

# The metadata proxy against direct access and nginx, with wrk on loopback (about 40 s).
perf-proxy:
	hack/proxyperf.sh

docs:
	$(GO) test ./internal/rules -run TestRuleReferenceIsCurrent -update
	$(GO) test ./internal/probe -run TestSchemaIsCurrent -update
