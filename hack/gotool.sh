#!/usr/bin/env bash
# Builds a Go command from the Go module proxy into .cache/tools, for the
# tests that run third-party tools (gator, helm):
#   hack/gotool.sh NAME VERSION PACKAGE
# Idempotent: a second run only checks the version stamp. Output goes to
# stderr; the binary's path is printed last on stdout.
set -euo pipefail

NAME="$1"
VERSION="$2"
PACKAGE="$3"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${ROOT}/.cache/tools"
GO="${GO:-go}"
BIN="${TOOLS}/${NAME}"
STAMP="${TOOLS}/${NAME}.version"

if [ -x "${BIN}" ] && [ "$(cat "${STAMP}" 2>/dev/null)" = "${VERSION}" ]; then
	echo "${BIN}"
	exit 0
fi
echo "${NAME}: building ${PACKAGE}@${VERSION} from the Go module proxy" >&2
mkdir -p "${TOOLS}"
SCRATCH="$(mktemp -d)"
trap 'rm -rf "${SCRATCH}"' EXIT
# Outside the repository, so go.mod and go.sum stay as they are.
(cd "${SCRATCH}" && GOWORK=off GOBIN="${SCRATCH}" "${GO}" install "${PACKAGE}@${VERSION}")
mv "${SCRATCH}/$(basename "${PACKAGE}")" "${BIN}"
echo "${VERSION}" >"${STAMP}"
echo "${BIN}"
