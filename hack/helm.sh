#!/usr/bin/env bash
# Builds the Helm CLI from the Go module proxy into .cache/tools, for
# internal/deploy's tests, which render deploy/helm/imdsguard and have the API
# server dry-run the result. The first build takes a few minutes; the path is
# printed last on stdout.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/gotool.sh" helm "${HELM_VERSION:-v3.22.0}" helm.sh/helm/v3/cmd/helm
