package generate

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	anpv1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	cnpv1alpha2 "sigs.k8s.io/network-policy-api/apis/v1alpha2"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/rules"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

// Proof is what re-evaluating the inputs with the generated NetworkPolicies
// applied showed. Node settings are left out on purpose: the proof is that
// the network path is closed, whatever the nodes would serve.
type Proof struct {
	// Workloads is the number of workloads checked (not exempt).
	Workloads int
	// Closed counts the workloads that reach no metadata target afterwards.
	Closed int
	// Open are the workloads that still reach a metadata target, or may,
	// each with the trace's reason. hostNetwork workloads are here too.
	Open []Gap
	// Loosened are pods that an existing policy isolated and that a
	// generated policy now also selects, which would widen what they may
	// reach. Build never does this; the proof checks it.
	Loosened []Gap
	// LostKeepOpen are workloads that could reach a node-local service
	// (NodeLocal DNSCache, the Pod Identity agent, ...) before and cannot
	// afterwards.
	LostKeepOpen []Gap
}

// OK reports whether the proof holds: every checked pod-network workload is
// closed, nothing was loosened and no node-local service was cut off.
func (p *Proof) OK() bool {
	for _, g := range p.Open {
		if !g.HostNetwork {
			return false
		}
	}
	return len(p.Loosened) == 0 && len(p.LostKeepOpen) == 0
}

const hostNetworkWhy = "uses the host network"

// InProof reports whether Prove applies an artifact: the NetworkPolicies
// and patches, and the cluster-wide kinds the engine evaluates
// (AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy,
// CiliumClusterwideNetworkPolicy, and Calico's Tier and GlobalNetworkPolicy).
func InProof(a *Artifact) bool {
	switch a.Group {
	case GroupNamespace, GroupPatch:
		return true
	case GroupCluster:
		if a.Object == nil {
			return false
		}
		k, v := a.Object.GetKind(), a.Object.GetAPIVersion()
		return v == anpv1alpha1.GroupVersion.String() && (k == "AdminNetworkPolicy" || k == "BaselineAdminNetworkPolicy") ||
			v == cnpv1alpha2.GroupVersion.String() && k == model.KindClusterNetworkPolicy ||
			v == "cilium.io/v2" && k == "CiliumClusterwideNetworkPolicy" ||
			v == "projectcalico.org/v3" && (k == "GlobalNetworkPolicy" || k == "Tier")
	}
	return false
}

// Prove applies the set's NetworkPolicies and the admin policies InProof
// names to the inventory, as `kubectl apply` would
// (a patched or generated policy replaces the one of the same name), and
// evaluates every workload again. The generated objects are read back from
// their rendered YAML with the same loader as the scan, so the proof covers
// what is written out, not only what was built in memory.
func Prove(in Input, set *Set, o Options) (*Proof, error) {
	var b bytes.Buffer
	objs, admin := 0, 0
	for i := range set.Artifacts {
		a := &set.Artifacts[i]
		if !InProof(a) {
			continue
		}
		if a.Group == GroupCluster {
			admin++
		} else {
			objs++
		}
		y, err := objectYAML(a)
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	loaded := manifest.Load(context.Background(), []string{"-"}, manifest.Options{Stdin: &b})
	if len(loaded.Errors) > 0 {
		return nil, fmt.Errorf("the generated policies do not load: %s", loaded.Errors[0].Error())
	}
	if got := len(loaded.Inventory.NetworkPolicies); got != objs {
		return nil, fmt.Errorf("the generated stream held %d NetworkPolicies, %d loaded", objs, got)
	}
	li := loaded.Inventory
	if got := len(li.AdminPolicies) + len(li.CiliumPolicies) + len(li.CalicoPolicies) + len(li.CalicoTiers); got != admin {
		return nil, fmt.Errorf("the generated stream held %d cluster-wide policies, %d loaded", admin, got)
	}
	after := overlay(in.Inventory, loaded.Inventory.NetworkPolicies)
	after.AdminPolicies = overlayObjects(in.Inventory.AdminPolicies, li.AdminPolicies, func(p *model.AdminPolicy) model.ObjectRef { return p.Ref })
	after.CiliumPolicies = overlayObjects(in.Inventory.CiliumPolicies, li.CiliumPolicies, func(p *model.CiliumPolicy) model.ObjectRef { return p.Ref })
	after.CalicoPolicies = overlayObjects(in.Inventory.CalicoPolicies, li.CalicoPolicies, func(p *model.CalicoPolicy) model.ObjectRef { return p.Ref })
	after.CalicoTiers = overlayObjects(in.Inventory.CalicoTiers, li.CalicoTiers, func(t *model.CalicoTier) model.ObjectRef { return t.Ref })
	targets := append(append([]reach.Target(nil), in.Analysis.Targets...), in.KeepOpen...)
	before := reach.Evaluate(in.Inventory, targets)
	now := reach.Evaluate(after, targets)
	p := &Proof{}
	for i, wr := range now.Workloads {
		w := wr.Workload
		if o.Exempt(in.Inventory.Namespace(w.Ref.Namespace)) {
			continue
		}
		p.Workloads++
		open := ""
		for ti, t := range targets {
			if t.KeepOpen() {
				if before.Workloads[i].Results[ti].Verdict == reach.Reachable && wr.Results[ti].Verdict != reach.Reachable {
					p.LostKeepOpen = append(p.LostKeepOpen, Gap{Object: w.Ref, Source: w.Source,
						Why: fmt.Sprintf("could reach %s (%s) before, now %s", t, t.IDs(), wr.Results[ti].Verdict)})
				}
				continue
			}
			if r := wr.Results[ti]; r.Verdict != reach.Blocked && open == "" {
				open = openWhy(t, r)
			}
		}
		if open == "" {
			p.Closed++
		} else if podOpen := podNetworkOpen(wr, targets); podOpen != "" {
			p.Open = append(p.Open, Gap{Object: w.Ref, Source: w.Source, Why: podOpen})
		} else {
			p.Open = append(p.Open, Gap{Object: w.Ref, Source: w.Source, Why: hostNetworkWhy + "; " + open, HostNetwork: true})
		}
		for t := range w.Templates {
			was := refs(before.Workloads[i].TemplatePolicies[t])
			if was == "" {
				continue
			}
			if is := refs(wr.TemplatePolicies[t]); is != was {
				p.Loosened = append(p.Loosened, Gap{Object: w.Ref, Source: w.Templates[t].Source,
					Why: fmt.Sprintf("selected by %s before, by %s afterwards", was, is)})
			}
		}
	}
	return p, nil
}

// podNetworkOpen says what a pod-network shape of the workload still
// reaches, or "" when only its hostNetwork shapes reach anything (a
// workload folded from pods may have both).
func podNetworkOpen(wr *reach.WorkloadResult, targets []reach.Target) string {
	for t, tp := range wr.Workload.Templates {
		if tp.HostNetwork {
			continue
		}
		for ti, tg := range targets {
			if r := wr.PerTemplate[t][ti]; !tg.KeepOpen() && r.Verdict != reach.Blocked {
				return openWhy(tg, r)
			}
		}
	}
	return ""
}

// overlay returns a shallow copy of inv with policies added, each replacing
// an existing policy of the same namespace and name.
func overlay(inv *model.Inventory, policies []*model.NetworkPolicy) *model.Inventory {
	out := *inv
	replace := map[[2]string]*model.NetworkPolicy{}
	for _, p := range policies {
		replace[[2]string{p.Ref.Namespace, p.Ref.Name}] = p
	}
	out.NetworkPolicies = nil
	for _, p := range inv.NetworkPolicies {
		k := [2]string{p.Ref.Namespace, p.Ref.Name}
		if r, ok := replace[k]; ok {
			out.NetworkPolicies = append(out.NetworkPolicies, r)
			delete(replace, k)
			continue
		}
		out.NetworkPolicies = append(out.NetworkPolicies, p)
	}
	for _, p := range policies {
		if _, ok := replace[[2]string{p.Ref.Namespace, p.Ref.Name}]; ok {
			out.NetworkPolicies = append(out.NetworkPolicies, p)
		}
	}
	return &out
}

// overlayObjects returns the objects with add added, each replacing an
// existing one of the same kind, namespace and name.
func overlayObjects[T any](have, add []*T, ref func(*T) model.ObjectRef) []*T {
	key := func(o *T) model.ObjectRef {
		r := ref(o)
		return model.ObjectRef{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
	}
	replace := map[model.ObjectRef]bool{}
	for _, o := range add {
		replace[key(o)] = true
	}
	var out []*T
	for _, o := range have {
		if !replace[key(o)] {
			out = append(out, o)
		}
	}
	return append(out, add...)
}

// refs names policies by namespace/name, sorted, for comparison.
func refs(ps []*model.NetworkPolicy) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Ref.Namespace + "/" + p.Ref.Name
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

// openWhy says why a target stays open, and how to close it when no
// NetworkPolicy can: an admin policy's Allow let it out.
func openWhy(t reach.Target, r reach.Result) string {
	why := fmt.Sprintf("%s %s: %s", t, r.Verdict, reason(r))
	if advice := rules.AdminAllowAdvice(r, []netip.Addr{t.Addr}); advice != "" {
		why += ". " + advice
	}
	return why
}

func reason(r reach.Result) string {
	var s []string
	for _, st := range r.Trace {
		s = append(s, st.Reason)
	}
	return strings.Join(s, "; ")
}
