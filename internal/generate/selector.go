package generate

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imdsguard/imdsguard/internal/model"
)

// maxComplementSelectors bounds the selectors one namespace may need. The
// complement of n policies with k terms each has up to k^n conjunctions;
// past this bound the namespace is left to a person, and said so.
const maxComplementSelectors = 64

// term is one requirement of a label selector.
type term struct {
	key, op string
	values  []string
}

// negate returns the requirement that matches exactly the label sets the
// term does not. NotIn and DoesNotExist match pods without the key, so the
// negation of "k In (v)" is "k NotIn (v)" and the other way round.
func (t term) negate() term {
	ops := map[string]string{
		string(metav1.LabelSelectorOpIn):           string(metav1.LabelSelectorOpNotIn),
		string(metav1.LabelSelectorOpNotIn):        string(metav1.LabelSelectorOpIn),
		string(metav1.LabelSelectorOpExists):       string(metav1.LabelSelectorOpDoesNotExist),
		string(metav1.LabelSelectorOpDoesNotExist): string(metav1.LabelSelectorOpExists),
	}
	return term{key: t.key, op: ops[t.op], values: t.values}
}

func (t term) String() string {
	return t.key + " " + t.op + " (" + strings.Join(t.values, ",") + ")"
}

// terms lists a selector's requirements, matchLabels as In with one value.
func terms(s *model.Selector) []term {
	var out []term
	for k, v := range s.MatchLabels {
		out = append(out, term{key: k, op: string(metav1.LabelSelectorOpIn), values: []string{v}})
	}
	for _, r := range s.MatchExpressions {
		vs := append([]string(nil), r.Values...)
		sort.Strings(vs)
		out = append(out, term{key: r.Key, op: r.Operator, values: vs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// complement returns label selectors whose union selects exactly the pods
// that none of the given selectors selects. nil means no pod is left (one
// of the selectors is empty and selects everything); a single empty
// selector means every pod (there were no selectors). ok is false when more
// than maxComplementSelectors would be needed.
//
// Each selector is a conjunction of terms, so its complement is the
// disjunction of the negated terms; the complement of the union is the
// conjunction of those disjunctions, expanded here into one conjunction
// (one generated policy) per choice of a negated term from each selector.
func complement(sels []*model.Selector) (out []metav1.LabelSelector, ok bool) {
	conj := [][]term{{}}
	for _, s := range sels {
		ts := terms(s)
		if len(ts) == 0 {
			return nil, true
		}
		var next [][]term
		for _, c := range conj {
			for _, t := range ts {
				n := append(append([]term(nil), c...), t.negate())
				if !contradicts(n) {
					next = append(next, n)
				}
			}
		}
		conj = dedupe(next)
		if len(conj) > maxComplementSelectors {
			return nil, false
		}
	}
	for _, c := range conj {
		out = append(out, toLabelSelector(c))
	}
	return out, true
}

// contradicts reports whether a conjunction's last term can never hold
// together with an earlier one on the same key: then it selects no pod.
func contradicts(c []term) bool {
	last := c[len(c)-1]
	for _, t := range c[:len(c)-1] {
		if t.key != last.key {
			continue
		}
		switch {
		case t.negate().op == last.op && equal(t.values, last.values):
			return true
		case t.op == string(metav1.LabelSelectorOpDoesNotExist) && last.op == string(metav1.LabelSelectorOpIn),
			t.op == string(metav1.LabelSelectorOpIn) && last.op == string(metav1.LabelSelectorOpDoesNotExist):
			return true
		}
	}
	return false
}

// dedupe removes conjunctions with the same terms, and terms repeated
// within one conjunction, keeping the order.
func dedupe(cs [][]term) [][]term {
	seen := map[string]bool{}
	var out [][]term
	for _, c := range cs {
		set := map[string]term{}
		for _, t := range c {
			set[t.String()] = t
		}
		keys := make([]string, 0, len(set))
		for k := range set {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		id := strings.Join(keys, "\x00")
		if seen[id] {
			continue
		}
		seen[id] = true
		u := make([]term, len(keys))
		for i, k := range keys {
			u[i] = set[k]
		}
		out = append(out, u)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func toLabelSelector(c []term) metav1.LabelSelector {
	var s metav1.LabelSelector
	for _, t := range c {
		s.MatchExpressions = append(s.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: t.key, Operator: metav1.LabelSelectorOperator(t.op), Values: t.values})
	}
	return s
}

// describeSelector renders a selector for comments and messages.
func describeSelector(s metav1.LabelSelector) string {
	if len(s.MatchExpressions) == 0 && len(s.MatchLabels) == 0 {
		return "every pod"
	}
	var parts []string
	for _, r := range s.MatchExpressions {
		parts = append(parts, fmt.Sprintf("%s %s (%s)", r.Key, r.Operator, strings.Join(r.Values, ",")))
	}
	return strings.Join(parts, " and ")
}
