#!/usr/bin/env bash
# Times a live scan against `kubectl get namespaces,pods,networkpolicies -A
# -o json` on a test API server holding 2,000 namespaces, 20,000 pods and
# 4,000 NetworkPolicies, and reports both processes' peak memory
# (docs/performance.md, "Live scan"). Builds kubectl v1.36.3 on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
assets="$(hack/controlplane.sh)"
out="${1:-/dev/stdout}"
KUBEBUILDER_ASSETS="${assets}" IMDSGUARD_LIVE_PERF_OUT="$(mktemp)" \
	bash -c 'go test -tags liveperf -count=1 -run "^TestLivePerf$" -timeout 60m ./internal/source/kube >&2 && cat "$IMDSGUARD_LIVE_PERF_OUT"' >"${out}"
