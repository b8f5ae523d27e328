#!/usr/bin/env bash
# Builds Gatekeeper's gator CLI from the Go module proxy into .cache/tools, for
# internal/generate's test of the generated ConstraintTemplate and constraint
# (gator evaluates them with Gatekeeper's own engine). The first build takes a
# few minutes; the path is printed last on stdout.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/gotool.sh" gator "${GATEKEEPER_VERSION:-v3.23.1}" github.com/open-policy-agent/gatekeeper/v3/cmd/gator
