// Package testenv starts a real etcd and kube-apiserver for tests, through
// controller-runtime's envtest. The binaries come from KUBEBUILDER_ASSETS or
// the repository's .cache/controlplane, which hack/controlplane.sh fills.
package testenv
