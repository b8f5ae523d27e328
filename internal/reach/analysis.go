package reach

import (
	"strconv"
	"sync"

	"github.com/imdsguard/imdsguard/internal/model"
)

// Analysis is the verdict for every workload and target in an inventory.
type Analysis struct {
	Targets   []Target
	Workloads []*WorkloadResult
	// Selects maps each egress NetworkPolicy to the workloads it selects.
	Selects map[*model.NetworkPolicy][]*WorkloadResult
	engine  *Engine
	inv     *model.Inventory
	// extra answers for targets outside Targets, such as the node-local
	// services that must stay reachable; built on first use.
	extra        *Engine
	extraTargets []Target
	extraMu      sync.Mutex
}

// WorkloadResult holds a workload's verdicts, one per target, and the egress
// policies that select any of its pods.
type WorkloadResult struct {
	Workload *model.Workload
	// Results is indexed like Analysis.Targets. With several pod shapes the
	// worst verdict wins, and its trace is kept.
	Results  []Result
	Policies []*model.NetworkPolicy
	// PerTemplate holds the results of each pod shape, indexed like
	// Workload.Templates.
	PerTemplate [][]Result
	// TemplatePolicies holds the egress policies selecting each pod shape.
	TemplatePolicies [][]*model.NetworkPolicy
}

// Engine returns the engine behind the analysis, for follow-up questions.
func (a *Analysis) Engine() *Engine { return a.engine }

// Evaluate answers every workload in the inventory for every target.
func Evaluate(inv *model.Inventory, targets []Target, opts ...Option) *Analysis {
	e := New(inv, targets, opts...)
	a := &Analysis{Targets: targets, Selects: map[*model.NetworkPolicy][]*WorkloadResult{}, engine: e, inv: inv}
	a.Workloads = make([]*WorkloadResult, len(inv.Workloads))
	for i, w := range inv.Workloads {
		wr := &WorkloadResult{Workload: w}
		a.Workloads[i] = wr
		ix := e.index(w.Ref.Namespace)
		for t := range w.Templates {
			ix.add(podRef{w: wr, t: t})
		}
	}
	for _, wr := range a.Workloads {
		wr.PerTemplate = make([][]Result, len(wr.Workload.Templates))
		wr.TemplatePolicies = make([][]*model.NetworkPolicy, len(wr.Workload.Templates))
	}
	// Namespace by namespace, so that what selection and the result cache
	// hold stays the size of one namespace.
	memo := resultCache{e: e, ids: policyIDs(inv), adminIDs: adminIDs(inv), m: map[string][]Result{}}
	for ns, ix := range e.ns {
		a.evaluateNamespace(ns, ix, &memo)
		ix.byLabel, ix.byKey, ix.pods = nil, nil, nil // only needed for selection
		clear(memo.m)                                 // its keys hold the namespace
	}
	for _, wr := range a.Workloads {
		wr.Results = worst(wr.PerTemplate, len(targets))
	}
	return a
}

// evaluateNamespace finds the egress policies selecting each pod shape of a
// namespace and evaluates it.
func (a *Analysis) evaluateNamespace(ns string, ix *nsIndex, memo *resultCache) {
	// selecting[i] lists the egress policies selecting pod i, in policy order.
	selecting := make([][]*model.NetworkPolicy, len(ix.pods))
	for _, np := range ix.policies {
		if !np.Egress {
			continue
		}
		var last *WorkloadResult
		for _, pi := range ix.selected(&np.PodSelector) {
			p := ix.pods[pi]
			selecting[pi] = append(selecting[pi], np)
			if p.w != last {
				last = p.w
				if n := len(p.w.Policies); n == 0 || p.w.Policies[n-1] != np {
					p.w.Policies = append(p.w.Policies, np)
					a.Selects[np] = append(a.Selects[np], p.w)
				}
			}
		}
	}
	for pi, p := range ix.pods {
		ps := selecting[pi]
		p.w.TemplatePolicies[p.t] = ps
		p.w.PerTemplate[p.t] = memo.pod(ns, &p.w.Workload.Templates[p.t], ps)
	}
}

// resultCache shares results between pods that meet the same policies in
// the same namespace: their verdicts and traces are identical, and most pods
// of a namespace do. Results (and their traces) are therefore shared and
// must not be modified.
type resultCache struct {
	e   *Engine
	ids map[*model.NetworkPolicy]int
	// adminIDs number the admin policies, for the keys.
	adminIDs map[*model.AdminPolicy]int
	m        map[string][]Result
	buf      []byte
}

func (c *resultCache) pod(ns string, t *model.PodTemplate, policies []*model.NetworkPolicy) []Result {
	c.buf = append(c.buf[:0], ns...)
	if t.HostNetwork {
		c.buf = append(c.buf, 0, 'h')
	}
	for _, p := range policies {
		c.buf = append(c.buf, 0)
		c.buf = strconv.AppendInt(c.buf, int64(c.ids[p]), 10)
	}
	admin, baseline := c.e.adminSelect(ns, t)
	for i, sel := range [][]adminSel{admin, baseline} {
		// Pods that meet different admin policies must not share a result.
		if len(sel) == 0 {
			continue
		}
		c.buf = append(c.buf, 0, "ab"[i])
		for _, s := range sel {
			c.buf = append(c.buf, 0)
			c.buf = strconv.AppendInt(c.buf, int64(c.adminIDs[s.p]), 10)
			if s.maybe {
				c.buf = append(c.buf, '?')
			}
		}
	}
	cilium := c.e.ciliumSelect(ns, t)
	if len(cilium) > 0 {
		// Pods that meet different Cilium rules must not share a result.
		c.buf = append(c.buf, 0, 'i')
		for _, s := range cilium {
			c.buf = append(c.buf, 0)
			c.buf = strconv.AppendInt(c.buf, int64(c.e.cilium.ids[s.r]), 10)
			if s.maybe {
				c.buf = append(c.buf, '?')
			}
		}
	}
	if c.e.calico != nil {
		c.buf = c.e.calicoKey(c.buf, ns, t)
	}
	if c.e.node != nil {
		// The node layer's answer also depends on where the pod may run.
		if k := t.PlacementKey(); k != "" {
			c.buf = append(append(c.buf, 0, 'p'), k...)
		}
	}
	if r, ok := c.m[string(c.buf)]; ok {
		return r
	}
	r := c.e.pod(ns, t, policies, admin, baseline, cilium)
	c.m[string(c.buf)] = r
	return r
}

func policyIDs(inv *model.Inventory) map[*model.NetworkPolicy]int {
	ids := make(map[*model.NetworkPolicy]int, len(inv.NetworkPolicies))
	for i, p := range inv.NetworkPolicies {
		ids[p] = i
	}
	return ids
}

func adminIDs(inv *model.Inventory) map[*model.AdminPolicy]int {
	ids := make(map[*model.AdminPolicy]int, len(inv.AdminPolicies))
	for i, p := range inv.AdminPolicies {
		ids[p] = i
	}
	return ids
}

func worst(per [][]Result, n int) []Result {
	if len(per) == 1 {
		return per[0]
	}
	out := make([]Result, n)
	if len(per) == 0 {
		for i := range out {
			out[i] = Result{Verdict: Unknown, Trace: []Step{{Layer: LayerInput, Decision: Undecided,
				Reason: "the workload has no pod template to evaluate"}}}
		}
		return out
	}
	for ti := 0; ti < n; ti++ {
		for t := range per {
			if t == 0 || per[t][ti].Verdict > out[ti].Verdict {
				out[ti] = per[t][ti]
			}
		}
	}
	return out
}

// Extra evaluates one workload against targets outside Targets (always the
// same slice for one Analysis), combining its pod shapes as Results does.
func (a *Analysis) Extra(wr *WorkloadResult, targets []Target) []Result {
	a.extraMu.Lock()
	if a.extra == nil || len(a.extraTargets) != len(targets) {
		a.extra, a.extraTargets = New(a.inv, targets), targets
	}
	extra := a.extra
	a.extraMu.Unlock()
	per := make([][]Result, len(wr.Workload.Templates))
	for t := range wr.Workload.Templates {
		per[t] = extra.Pod(wr.Workload.Ref.Namespace, &wr.Workload.Templates[t], wr.TemplatePolicies[t])
	}
	return worst(per, len(targets))
}

// Selecting returns the egress policies in a namespace that select a set of
// labels, by direct evaluation (for one-off questions such as explain).
func (e *Engine) Selecting(ns string, l model.Labels) []*model.NetworkPolicy {
	var out []*model.NetworkPolicy
	if ix := e.ns[ns]; ix != nil {
		for _, np := range ix.policies {
			if np.Egress && np.PodSelector.Matches(l) {
				out = append(out, np)
			}
		}
	}
	return out
}
