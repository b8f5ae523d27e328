#!/usr/bin/env bash
# Builds Gatekeeper's gator CLI from the Go module proxy into .cache/tools, for
# internal/generate's test of the generated ConstraintTemplate and constraint
# (gator evaluates them with Gatekeeper's own engine). Idempotent: a second run
# only checks the version. The first build takes a few minutes. Output goes to
# stderr; the binary's path is printed last on stdout.
set -euo pipefail

GATEKEEPER_VERSION="${GATEKEEPER_VERSION:-v3.23.1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${ROOT}/.cache/tools"
GO="${GO:-go}"
BIN="${TOOLS}/gator"
STAMP="${TOOLS}/gator.version"

if [ -x "${BIN}" ] && [ "$(cat "${STAMP}" 2>/dev/null)" = "${GATEKEEPER_VERSION}" ]; then
	echo "${BIN}"
	exit 0
fi
echo "gator: building gator ${GATEKEEPER_VERSION} from the Go module proxy" >&2
mkdir -p "${TOOLS}"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "${SCRATCH}"' EXIT
# Outside the repository, so go.mod and go.sum stay as they are.
(cd "${SCRATCH}" && GOWORK=off GOBIN="${SCRATCH}" "${GO}" install \
	"github.com/open-policy-agent/gatekeeper/v3/cmd/gator@${GATEKEEPER_VERSION}")
mv "${SCRATCH}/gator" "${BIN}"
echo "${GATEKEEPER_VERSION}" >"${STAMP}"
echo "${BIN}"
