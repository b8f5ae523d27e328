#!/usr/bin/env bash
# Fetches the upstream CRDs that internal/generate's API-server tests install,
# from the Go module proxy (the only source a fresh CI machine has), and copies
# just the CRD files to .cache/crds. Idempotent: a second run only checks the
# stamp. Output goes to stderr; the directory is printed last on stdout.
#
#   network-policy-api ClusterNetworkPolicy: the version in go.mod (types and CRD agree)
#   network-policy-api AdminNetworkPolicy, BaselineAdminNetworkPolicy: v0.1.7, the last
#       release that ships their CRDs (its v1alpha1 Go types equal go.mod's)
#   Cilium CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy: github.com/cilium/cilium (module zip ~38 MB)
#   Kyverno ClusterPolicy: github.com/kyverno/kyverno (~10 MB)
#   Gatekeeper ConstraintTemplate: github.com/open-policy-agent/frameworks/constraint (~0.3 MB)
#
# Calico's projectcalico.org/v3 CRDs are not on the module proxy; the tests use a
# minimal structural CRD of their own (internal/generate/testdata/crds).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${ROOT}/.cache/crds"
GO="${GO:-go}"

NPAPI_ANP_VERSION=v0.1.7
CILIUM_VERSION=v1.20.2
KYVERNO_VERSION=v1.19.1
CONSTRAINT_VERSION=v0.0.0-20260616163050-e1eaa1bf6d62

log() { echo "crds: $*" >&2; }

NPAPI_VERSION="$(cd "${ROOT}" && "${GO}" list -m -f '{{.Version}}' sigs.k8s.io/network-policy-api)"
STAMP="npapi=${NPAPI_VERSION} anp=${NPAPI_ANP_VERSION} cilium=${CILIUM_VERSION}+cnp kyverno=${KYVERNO_VERSION} constraint=${CONSTRAINT_VERSION}"

if [ -f "${OUT}/.stamp" ] && [ "$(cat "${OUT}/.stamp")" = "${STAMP}" ]; then
	echo "${OUT}"
	exit 0
fi

# Download outside the repository so go.mod and go.sum stay as they are.
SCRATCH="$(mktemp -d)"
trap 'rm -rf "${SCRATCH}"' EXIT

# fetch MODULE@VERSION FILE... copies FILEs of the module's tree into OUT.
fetch() {
	local mod="$1" dir
	shift
	log "fetching ${mod}"
	dir="$(cd "${SCRATCH}" && GOFLAGS=-mod=mod GOWORK=off "${GO}" mod download -json "${mod}" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
	[ -d "${dir}" ] || { log "no directory for ${mod}"; exit 1; }
	for f in "$@"; do
		install -m 0644 "${dir}/${f}" "${OUT}/$(basename "${f}")"
	done
}

rm -rf "${OUT}"
mkdir -p "${OUT}"
fetch "sigs.k8s.io/network-policy-api@${NPAPI_VERSION}" \
	config/crd/standard/policy.networking.k8s.io_clusternetworkpolicies.yaml
fetch "sigs.k8s.io/network-policy-api@${NPAPI_ANP_VERSION}" \
	config/crd/standard/policy.networking.k8s.io_adminnetworkpolicies.yaml \
	config/crd/standard/policy.networking.k8s.io_baselineadminnetworkpolicies.yaml
fetch "github.com/cilium/cilium@${CILIUM_VERSION}" \
	pkg/k8s/apis/cilium.io/client/crds/v2/ciliumclusterwidenetworkpolicies.yaml \
	pkg/k8s/apis/cilium.io/client/crds/v2/ciliumnetworkpolicies.yaml
fetch "github.com/kyverno/kyverno@${KYVERNO_VERSION}" \
	config/crds/kyverno/kyverno.io_clusterpolicies.yaml
fetch "github.com/open-policy-agent/frameworks/constraint@${CONSTRAINT_VERSION}" \
	deploy/crds.yaml
mv "${OUT}/crds.yaml" "${OUT}/gatekeeper-frameworks-crds.yaml"
echo "${STAMP}" >"${OUT}/.stamp"
log "CRDs in ${OUT}"
echo "${OUT}"
