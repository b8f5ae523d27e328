#!/usr/bin/env bash
# Measures the controller's startup reconcile on a test API server holding
# 2,000 unprotected namespaces (IMDSGUARD_PERF_NAMESPACES changes the count):
# time to protect them all, API requests, peak and quiet memory
# (docs/performance.md, "Controller").
set -euo pipefail
cd "$(dirname "$0")/.."
assets="${KUBEBUILDER_ASSETS:-$(hack/controlplane.sh)}"
KUBEBUILDER_ASSETS="${assets}" go test -tags controllerperf -count=1 -v -run '^TestStartupPerf$' -timeout 30m ./internal/controller 2>&1 |
	grep -E '^(=== RUN|--- |\s+perf_test.go|ok|FAIL)'
