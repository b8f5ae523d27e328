#!/usr/bin/env bash
# Reproduces docs/performance.md: builds hack/perf and runs it.
#   hack/perf.sh                       # 1k, 5k and 20k namespaces, 3 rounds
#   hack/perf.sh -sizes 5000 -rounds 5
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
go build -o bin/perf ./hack/perf
exec bin/perf "$@"
