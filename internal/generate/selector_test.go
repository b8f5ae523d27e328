package generate

import (
	"fmt"
	"math/rand/v2"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/imdsguard/imdsguard/internal/model"
)

var (
	selKeys   = []string{"app", "tier", "env"}
	selValues = []string{"web", "db", "x"}
)

// randomSelector builds a selector from a small vocabulary so that
// selectors overlap often.
func randomSelector(r *rand.Rand) *model.Selector {
	s := &model.Selector{}
	for range r.IntN(3) {
		if s.MatchLabels == nil {
			s.MatchLabels = map[string]string{}
		}
		s.MatchLabels[selKeys[r.IntN(3)]] = selValues[r.IntN(3)]
	}
	for range r.IntN(3) {
		req := model.Requirement{Key: selKeys[r.IntN(3)], Operator: []string{"In", "NotIn", "Exists", "DoesNotExist"}[r.IntN(4)]}
		if req.Operator == "In" || req.Operator == "NotIn" {
			for _, i := range r.Perm(3)[:1+r.IntN(2)] {
				req.Values = append(req.Values, selValues[i])
			}
		}
		s.MatchExpressions = append(s.MatchExpressions, req)
	}
	return s
}

// allLabelSets enumerates every label set over the vocabulary, including
// absent keys and a value outside it.
func allLabelSets() []labels.Set {
	vals := append([]string{""}, append(selValues, "other")...)
	var out []labels.Set
	for _, a := range vals {
		for _, b := range vals {
			for _, c := range vals {
				s := labels.Set{}
				for i, v := range []string{a, b, c} {
					if v != "" {
						s[selKeys[i]] = v
					}
				}
				out = append(out, s)
			}
		}
	}
	return out
}

// compileLS evaluates a selector the way the API server does, as the
// reference for the complement.
func compileLS(t *testing.T, ls *metav1.LabelSelector) labels.Selector {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		t.Fatalf("selector %v does not compile: %v", ls, err)
	}
	return sel
}

func modelLS(s *model.Selector) *metav1.LabelSelector {
	ls := &metav1.LabelSelector{MatchLabels: s.MatchLabels}
	for _, r := range s.MatchExpressions {
		ls.MatchExpressions = append(ls.MatchExpressions, metav1.LabelSelectorRequirement{Key: r.Key, Operator: metav1.LabelSelectorOperator(r.Operator), Values: r.Values})
	}
	return ls
}

// TestComplementAgainstEnumeration checks, for random sets of selectors and
// every label set over the vocabulary, that a pod is selected by one of the
// complement's selectors exactly when none of the originals selects it.
func TestComplementAgainstEnumeration(t *testing.T) {
	sets := allLabelSets()
	r := rand.New(rand.NewPCG(1, 2))
	capped := 0
	for c := range 3000 {
		var sels []*model.Selector
		for range r.IntN(5) {
			sels = append(sels, randomSelector(r))
		}
		out, ok := complement(sels)
		if !ok {
			capped++
			continue
		}
		var origs, comps []labels.Selector
		for _, s := range sels {
			origs = append(origs, compileLS(t, modelLS(s)))
		}
		for i := range out {
			comps = append(comps, compileLS(t, &out[i]))
		}
		for _, ls := range sets {
			inOrig := false
			for _, s := range origs {
				inOrig = inOrig || s.Matches(ls)
			}
			inComp := false
			for _, s := range comps {
				inComp = inComp || s.Matches(ls)
			}
			if inOrig == inComp {
				t.Fatalf("case %d: labels %v: selected by an original %v, by the complement %v\noriginals: %s\ncomplement: %v",
					c, ls, inOrig, inComp, describe(sels), out)
			}
		}
	}
	if capped > 300 {
		t.Errorf("%d of 3000 cases hit the cap of %d selectors; the cap or the pruning is off", capped, maxComplementSelectors)
	}
}

func describe(sels []*model.Selector) string {
	s := ""
	for _, x := range sels {
		s += fmt.Sprintf("{%v %v} ", x.MatchLabels, x.MatchExpressions)
	}
	return s
}

func TestComplementShapes(t *testing.T) {
	if out, ok := complement(nil); !ok || len(out) != 1 || describeSelector(out[0]) != "every pod" {
		t.Errorf("no policies: got %v, want one empty selector", out)
	}
	if out, ok := complement([]*model.Selector{{MatchLabels: map[string]string{"app": "a"}}, {}}); !ok || out != nil {
		t.Errorf("a policy selecting every pod: got %v, want none", out)
	}
	out, _ := complement([]*model.Selector{{MatchLabels: map[string]string{"app": "a"}}, {MatchLabels: map[string]string{"app": "b"}}})
	if len(out) != 1 || describeSelector(out[0]) != "app NotIn (a) and app NotIn (b)" {
		t.Errorf("two app selectors: got %v", out)
	}
	// Two terms each: the expansion has four conjunctions, none contradictory.
	out, _ = complement([]*model.Selector{{MatchLabels: map[string]string{"app": "a", "tier": "t"}}, {MatchLabels: map[string]string{"env": "e", "zone": "z"}}})
	if len(out) != 4 {
		t.Errorf("2x2 terms: got %d selectors, want 4: %v", len(out), out)
	}
	// In and NotIn on the same value contradict: one branch is pruned.
	out, _ = complement([]*model.Selector{{MatchLabels: map[string]string{"app": "a"}},
		{MatchExpressions: []model.Requirement{{Key: "app", Operator: "NotIn", Values: []string{"a"}}}}})
	if out != nil {
		t.Errorf("app=a and app NotIn (a) together select every pod: got %v, want no selector", out)
	}
}
