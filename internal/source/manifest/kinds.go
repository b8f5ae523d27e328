package manifest

import (
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// class is what the loader makes of a kind.
type class int

const (
	classUnknown class = iota
	classPod
	classController // runs pods from spec.template
	classCronJob    // runs pods from spec.jobTemplate.spec.template
	classNamespace
	classServiceAccount
	classNode
	classNetworkPolicy
	classStub
	classAdminPolicy  // AdminNetworkPolicy, BaselineAdminNetworkPolicy (v1alpha1), ClusterNetworkPolicy (v1alpha2)
	classCilium       // CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy (cilium.io/v2)
	classCalicoPolicy // Calico NetworkPolicy, GlobalNetworkPolicy (calico.go)
	classCalicoTier
)

// group returns the API group of an apiVersion ("" for the core group).
func group(apiVersion string) string {
	g, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return ""
	}
	return g
}

// kindKey is "group/Kind", the key of the tables below.
func kindKey(apiVersion, kind string) string {
	return group(apiVersion) + "/" + kind
}

var classes = map[string]class{
	"/Pod":                            classPod,
	"/ReplicationController":          classController,
	"apps/Deployment":                 classController,
	"apps/ReplicaSet":                 classController,
	"apps/StatefulSet":                classController,
	"apps/DaemonSet":                  classController,
	"extensions/Deployment":           classController,
	"extensions/ReplicaSet":           classController,
	"extensions/DaemonSet":            classController,
	"batch/Job":                       classController,
	"batch/CronJob":                   classCronJob,
	"/Namespace":                      classNamespace,
	"/ServiceAccount":                 classServiceAccount,
	"/Node":                           classNode,
	"networking.k8s.io/NetworkPolicy": classNetworkPolicy,
	"extensions/NetworkPolicy":        classNetworkPolicy,
}

// stubKinds are the policy kinds the engine does not evaluate yet.
var stubKinds = model.UnevaluatedPolicyKinds

// foldedKinds are the kinds reported under their controlling owner.
var foldedKinds = map[string]bool{
	"/Pod":                  true,
	"apps/ReplicaSet":       true,
	"extensions/ReplicaSet": true,
	"batch/Job":             true,
}

// classify names the class of a kind; unknown kinds are looked at further
// by the caller (any kind with a pod template is a workload).
func classify(apiVersion, kind string) class {
	if apiVersion == adminAPIVersion && (kind == "AdminNetworkPolicy" || kind == "BaselineAdminNetworkPolicy") ||
		apiVersion == cnpAPIVersion && kind == model.KindClusterNetworkPolicy {
		return classAdminPolicy
	}
	if apiVersion == ciliumAPIVersion && (kind == "CiliumNetworkPolicy" || kind == "CiliumClusterwideNetworkPolicy") {
		return classCilium
	}
	if c, ok := calicoClass(apiVersion, kind); ok {
		return c
	}
	key := kindKey(apiVersion, kind)
	if c, ok := classes[key]; ok {
		return c
	}
	if _, ok := stubFlags(key); ok {
		return classStub
	}
	return classUnknown
}

// stubFlags returns the flags of a stub kind: one the engine does not
// evaluate, or a Calico kind of a version it does not read.
func stubFlags(key string) (model.PolicyStub, bool) {
	if s, ok := stubKinds[key]; ok {
		return s, true
	}
	s, ok := model.CalicoPolicyKinds[key]
	return s, ok
}

// namespaced reports whether objects of a class live in a namespace.
func namespaced(c class, apiVersion, kind string) bool {
	switch c {
	case classNamespace, classNode, classUnknown, classAdminPolicy, classCalicoTier:
		return false
	case classCalicoPolicy:
		return kind == "NetworkPolicy"
	case classStub:
		s, _ := stubFlags(kindKey(apiVersion, kind))
		return !s.ClusterScoped
	case classCilium:
		return kind == "CiliumNetworkPolicy"
	}
	return true
}
