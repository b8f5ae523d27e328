#!/usr/bin/env bash
# Runs every fuzz target in the repository for a bounded number of inputs.
# Usage: hack/fuzz-smoke.sh [FUZZTIME]   (default 20000x: 20,000 inputs per target)
#
# A count (Nx) rather than a duration: when a duration runs out while the
# fuzzing engine is minimising an input, Go reports "context deadline
# exceeded" and fails the run, a flake of the engine, not of the code.
set -euo pipefail
cd "$(dirname "$0")/.."
dur="${1:-20000x}"
found=0
while IFS= read -r file; do
  pkg="./$(dirname "$file")"
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)' "$file" | awk '{print $2}'); do
    found=$((found + 1))
    echo "fuzz: $pkg $target for $dur"
    go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$dur" -timeout 10m
  done
done < <(grep -rlE '^func Fuzz' --include='*_test.go' cmd internal | sort)
echo "fuzz: $found target(s) ran without failure"
