package controller

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/protection"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// recordClass records an Event and counts an opt-out when the namespace's
// protection state changed since it was last seen.
func (r *NamespaceReconciler) recordClass(ns *corev1.Namespace, mem *namespaceMemory, class protection.State, reason string) {
	if mem.class == class {
		return
	}
	prev := mem.class
	mem.class = class
	p := r.Policy
	switch class {
	case protection.OptedOut:
		r.Metrics.OptOuts.WithLabelValues("honoured").Inc()
		r.Recorder.Eventf(ns, nil, corev1.EventTypeWarning, ReasonOptedOut, "OptOut",
			"namespace opted out of metadata protection (label %s=%s); reason: %s", p.OptOutLabel, p.OptOutValue, reason)
	case protection.OptOutRefused:
		r.Metrics.OptOuts.WithLabelValues("refused").Inc()
		r.Recorder.Eventf(ns, nil, corev1.EventTypeWarning, ReasonOptOutRefused, "OptOut",
			"opt-out refused: the label %s=%s needs the annotation %s saying why pods here need the metadata service; the namespace stays protected",
			p.OptOutLabel, p.OptOutValue, p.ReasonAnnotation)
	case protection.Protected:
		if prev == protection.OptedOut || prev == protection.OptOutRefused {
			r.Recorder.Eventf(ns, nil, corev1.EventTypeNormal, ReasonOptOutEnded, "OptOut",
				"the opt-out label is gone; the namespace is protected again")
		}
	}
}

// report records an Event for each policy whose re-opening rules changed
// since last reported, counts the re-opening rules of the namespace, and
// returns the policies that open a metadata target.
// Such policies are never edited: the webhook stops new ones, and `imdsguard
// fix` shows the patch. policies is nil when the namespace is not guarded.
func (r *NamespaceReconciler) report(ns *corev1.Namespace, mem *namespaceMemory, policies []*model.NetworkPolicy) map[*model.NetworkPolicy]bool {
	opens := map[*model.NetworkPolicy]bool{}
	seen := map[string]bool{}
	rules := 0
	for _, np := range policies {
		openings := reach.Openings(np, r.Policy.Targets)
		if len(openings) == 0 {
			continue
		}
		opens[np] = true
		rules += protection.CountRules(openings)
		msg := protection.DescribeOpenings(openings)
		seen[np.Ref.Name] = true
		if mem.openings[np.Ref.Name] == msg {
			continue
		}
		mem.openings[np.Ref.Name] = msg
		obj := &networkingv1.NetworkPolicy{}
		obj.Namespace, obj.Name = np.Ref.Namespace, np.Ref.Name
		r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, ReasonReopensMetadata, "Evaluate",
			"%s; pods it selects can reach the metadata service. imdsguard does not edit this policy: %s", msg, protection.FixHint)
	}
	for name := range mem.openings {
		if !seen[name] {
			delete(mem.openings, name)
		}
	}
	if policies == nil {
		r.Metrics.ReopeningRules.DeleteLabelValues(ns.Name)
	} else if rules != mem.reopening || rules > 0 {
		r.Metrics.ReopeningRules.WithLabelValues(ns.Name).Set(float64(rules))
	}
	mem.reopening = rules
	return opens
}
