package kube

import (
	"github.com/imdsguard/imdsguard/internal/model"
)

// unreadableName names the stand-in for policies that could not be listed.
const unreadableName = "(unreadable)"

// forbiddenList is the reason a stand-in carries into the trace.
const forbiddenList = "the list was refused; see the input errors"

// unreadable records a policy list that failed. Policies that may exist
// but cannot be read are treated like policies of a kind the engine does
// not evaluate: every pod they could select gets Unknown, and host-network
// pods, which NetworkPolicy never selects, keep their verdict.
func (l *loader) unreadable(r resource, ns string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unread = append(l.unread, unread{r: r, ns: ns})
}

type unread struct {
	r  resource
	ns string
}

// unreadableStubs returns the stand-ins for the failed policy lists. A
// NetworkPolicy list that failed in every namespace stands in each known
// namespace.
func (l *loader) unreadableStubs(inv *model.Inventory) []*model.PolicyStub {
	var out []*model.PolicyStub
	for _, u := range l.unread {
		ref := model.ObjectRef{APIVersion: u.r.apiVersion, Kind: u.r.kind, Name: unreadableName}
		if u.r == resNetworkPolices {
			nss := []string{u.ns}
			if u.ns == "" {
				nss = inv.NamespaceNames()
			}
			for _, ns := range nss {
				ref.Namespace = ns
				out = append(out, &model.PolicyStub{Ref: ref, Source: l.src, Unreadable: forbiddenList})
			}
			if len(nss) == 0 {
				out = append(out, &model.PolicyStub{Ref: ref, Source: l.src, ClusterScoped: true, Unreadable: forbiddenList})
			}
			continue
		}
		s := stubKinds[u.r.group()+"/"+u.r.kind]
		if !s.ClusterScoped {
			ref.Namespace = u.ns
			s.ClusterScoped = u.ns == ""
		}
		s.Ref, s.Source, s.Unreadable = ref, l.src, forbiddenList
		out = append(out, &s)
	}
	return out
}
