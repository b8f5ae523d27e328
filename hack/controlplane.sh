#!/usr/bin/env bash
# Prepares a real control plane (etcd + kube-apiserver) for the tests and caches it
# under .cache/controlplane. Idempotent: a second run only checks what is there.
#
#   etcd:           Debian's etcd-server package (apt-get), linked into the cache.
#   kube-apiserver: built from the Go module proxy (k8s.io/kubernetes v1.36.3),
#                   about 5 minutes on 2 cores the first time.
#
# Prints the assets directory last, so callers can do
#   export KUBEBUILDER_ASSETS="$(hack/controlplane.sh | tail -n1)"
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
STAGING_VERSION="v0${KUBE_VERSION#v1}" # v1.36.3 -> v0.36.3
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ASSETS="${ROOT}/.cache/controlplane"
GO="${GO:-go}"

log() { echo "controlplane: $*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		log "need root (or sudo) to run: $*"
		return 1
	fi
}

ensure_etcd() {
	local etcd
	etcd="$(command -v etcd || true)"
	if [ -z "${etcd}" ]; then
		log "installing etcd-server from Debian packages"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server >&2 ||
			{ as_root apt-get update >&2 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server >&2; }
		etcd="$(command -v etcd)"
	fi
	ln -sf "${etcd}" "${ASSETS}/etcd"
}

apiserver_ok() {
	[ -x "${ASSETS}/kube-apiserver" ] &&
		"${ASSETS}/kube-apiserver" --version 2>/dev/null | grep -qx "Kubernetes ${KUBE_VERSION}"
}

ensure_apiserver() {
	if apiserver_ok; then
		return
	fi
	log "building kube-apiserver ${KUBE_VERSION} from the Go module proxy (takes a few minutes)"
	local mod="${ASSETS}/build"
	rm -rf "${mod}"
	mkdir -p "${mod}"
	(
		cd "${mod}"
		export GOFLAGS=-mod=mod GOWORK=off
		"${GO}" mod download "k8s.io/kubernetes@${KUBE_VERSION}"
		local kmod
		kmod="$("${GO}" mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
		[ -f "${kmod}" ] || { log "go.mod of k8s.io/kubernetes not found"; exit 1; }
		{
			echo "module imdsguard.invalid/controlplane"
			echo
			sed -n 's/^go \(.*\)$/go \1/p' "${kmod}" | head -n1
			echo
			echo "require k8s.io/kubernetes ${KUBE_VERSION}"
			echo
			# Every staging module k8s.io/kubernetes replaces with ./staging/... is
			# published separately as k8s.io/X v0.x.y.
			grep -E '^[[:space:]]*k8s\.io/[^ ]+ => \./staging/' "${kmod}" |
				awk -v v="${STAGING_VERSION}" '{print "replace " $1 " => " $1 " " v}'
		} >go.mod
		cat >tools.go <<'EOF'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
EOF
		"${GO}" mod tidy >&2
		local pkg=k8s.io/component-base/version
		"${GO}" build -trimpath \
			-ldflags "-X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=$(echo "${KUBE_VERSION}" | cut -d. -f2)" \
			-o "${ASSETS}/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
	)
	mv "${ASSETS}/kube-apiserver.tmp" "${ASSETS}/kube-apiserver"
	apiserver_ok || { log "built kube-apiserver does not report ${KUBE_VERSION}"; exit 1; }
}

# ensure_kubectl builds kubectl from the same module, for the kubectl-plugin
# test and hack/liveperf.sh.
ensure_kubectl() {
	if [ -x "${ASSETS}/kubectl" ] && "${ASSETS}/kubectl" version --client 2>/dev/null | grep -q "Client Version: ${KUBE_VERSION}$"; then
		return
	fi
	[ -f "${ASSETS}/build/go.mod" ] || { rm -f "${ASSETS}/kube-apiserver"; ensure_apiserver; }
	log "building kubectl ${KUBE_VERSION}"
	(
		cd "${ASSETS}/build"
		export GOFLAGS=-mod=mod GOWORK=off
		local pkg=k8s.io/component-base/version
		"${GO}" build -trimpath \
			-ldflags "-X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=$(echo "${KUBE_VERSION}" | cut -d. -f2)" \
			-o "${ASSETS}/kubectl" k8s.io/kubernetes/cmd/kubectl
	)
}

mkdir -p "${ASSETS}"
ensure_etcd
ensure_apiserver
# kubectl is needed by the kubectl-plugin test and hack/liveperf.sh.
ensure_kubectl
log "etcd: $("${ASSETS}/etcd" --version 2>/dev/null | head -n1)"
log "kube-apiserver: $("${ASSETS}/kube-apiserver" --version)"
echo "${ASSETS}"
