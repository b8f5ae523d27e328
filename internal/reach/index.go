package reach

import (
	"github.com/imdsguard/imdsguard/internal/model"
)

// nsIndex holds one namespace's policies, its pods, and an inverted label
// index over the pods.
type nsIndex struct {
	policies []*model.NetworkPolicy
	stubs    []*model.PolicyStub
	pods     []podRef
	// byLabel maps a label (key and value) to pod indexes, and byKey maps
	// a label key.
	byLabel map[label][]int32
	byKey   map[string][]int32
}

// label is one key=value pair, as a map key.
type label struct{ k, v string }

type podRef struct {
	w *WorkloadResult
	t int
}

func (ix *nsIndex) add(p podRef) {
	if ix.byLabel == nil {
		ix.byLabel, ix.byKey = map[label][]int32{}, map[string][]int32{}
	}
	i := int32(len(ix.pods))
	ix.pods = append(ix.pods, p)
	for k, v := range p.w.Workload.Templates[p.t].Labels {
		ix.byLabel[label{k, v}] = append(ix.byLabel[label{k, v}], i)
		ix.byKey[k] = append(ix.byKey[k], i)
	}
}

// selected returns the indexes of the pods the selector selects. It starts
// from the shortest posting list that the selector requires, so a narrow
// selector costs what it selects, not the size of the namespace.
func (ix *nsIndex) selected(sel *model.Selector) []int32 {
	var cand []int32
	narrowed := false
	consider := func(list []int32) {
		if !narrowed || len(list) < len(cand) {
			cand, narrowed = list, true
		}
	}
	for k, v := range sel.MatchLabels {
		consider(ix.byLabel[label{k, v}])
	}
	for _, r := range sel.MatchExpressions {
		switch r.Operator {
		case "Exists":
			consider(ix.byKey[r.Key])
		case "In":
			if len(r.Values) == 1 {
				consider(ix.byLabel[label{r.Key, r.Values[0]}])
			} else {
				consider(ix.byKey[r.Key])
			}
		}
	}
	var out []int32
	if !narrowed {
		for i := range ix.pods {
			if sel.Matches(ix.labels(int32(i))) {
				out = append(out, int32(i))
			}
		}
		return out
	}
	for _, i := range cand {
		if sel.Matches(ix.labels(i)) {
			out = append(out, i)
		}
	}
	return out
}

func (ix *nsIndex) labels(i int32) model.Labels {
	p := ix.pods[i]
	return p.w.Workload.Templates[p.t].Labels
}
