package generate

import (
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// ManagedByValue is the value of ManagedByLabel on generated objects.
const ManagedByValue = "imdsguard"

// NamespacePolicies returns the protection policies of one namespace, the
// same ones Build writes for it: they select exactly the pods that none of
// the existing egress policies selects. existing must not hold the
// generated policies themselves (see IsGenerated), or they would select
// nothing. ok is false when the complement needs too many policies; the
// namespace then has to be protected by hand.
func NamespacePolicies(ns string, existing []*model.NetworkPolicy, keepOpen []reach.Target, o *Options) (nps []*networkingv1.NetworkPolicy, ok bool) {
	return namespacePolicies(ns, existing, keepOpen, o)
}

// IsGenerated reports whether a NetworkPolicy's name and labels are those of
// a policy NamespacePolicies makes with these options: the name, or the name
// with a "-N" suffix, and the managed-by label.
func IsGenerated(name string, labels map[string]string, o *Options) bool {
	if labels[ManagedByLabel] != ManagedByValue {
		return false
	}
	base := o.name()
	if name == base {
		return true
	}
	rest, found := strings.CutPrefix(name, base+"-")
	if !found {
		return false
	}
	n, err := strconv.Atoi(rest)
	return err == nil && n >= 1 && strconv.Itoa(n) == rest
}
