package protection

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// GuardedSubjects returns the guarded namespaces, sorted by name, whose
// pods an admin policy's subject selects. The subject is a namespace
// selector, or a pod selector within namespaces; either way the policy
// reaches into every namespace its namespace selector matches.
func (p *Policy) GuardedSubjects(ap *model.AdminPolicy, nss []corev1.Namespace) []string {
	sel := ap.Subject.Namespaces
	if sel == nil && ap.Subject.Pods != nil {
		sel = &ap.Subject.Pods.NamespaceSelector
	}
	if sel == nil {
		return nil
	}
	var out []string
	for i := range nss {
		ns := &nss[i]
		if state, _ := p.Classify(ns); !state.Guarded() {
			continue
		}
		labels := model.Labels{model.MetadataNameLabel: ns.Name}
		for k, v := range ns.Labels {
			labels[k] = v
		}
		if sel.Matches(labels) {
			out = append(out, ns.Name)
		}
	}
	slices.Sort(out)
	return out
}

// AdminName names an admin policy with its kind and place:
// `AdminNetworkPolicy allow-agent (priority 5)`,
// `ClusterNetworkPolicy allow-agent (Admin tier, priority 5)`.
func AdminName(ap *model.AdminPolicy) string {
	if ap.ClusterNetworkPolicy() {
		return fmt.Sprintf("ClusterNetworkPolicy %s (%s tier, priority %d)", ap.Ref.Name, ap.Tier(), ap.Priority)
	}
	return fmt.Sprintf("%s %s (priority %d)", ap.Ref.Kind, ap.Ref.Name, ap.Priority)
}

// DescribeAdminReopening says what an admin policy opens, and for which
// guarded namespaces.
func DescribeAdminReopening(ap *model.AdminPolicy, openings []reach.Opening, namespaces []string) string {
	return fmt.Sprintf("%s re-opens the cloud metadata service for the pods it selects in %s, which imdsguard protects: %s",
		AdminName(ap), namespaceList(namespaces), DescribeOpenings(openings))
}

// namespaceList names up to five namespaces: `namespace "a"`,
// `namespaces "a", "b" and 4 more`.
func namespaceList(nss []string) string {
	if len(nss) == 1 {
		return fmt.Sprintf("namespace %q", nss[0])
	}
	var q []string
	for i, n := range nss {
		if i == 5 {
			q = append(q, fmt.Sprintf("%d more", len(nss)-5))
			break
		}
		q = append(q, fmt.Sprintf("%q", n))
	}
	return "namespaces " + strings.Join(q, ", ")
}

// AdminFixHint says how to close an Allow or Accept rule of an admin
// policy that re-opens metadata: the rule is decided before every
// NetworkPolicy, so only the admin policies themselves can close it.
func AdminFixHint(deny []netip.Prefix) string { return rules.AdminDenyAdvice(deny) }
