package manifest

import (
	yaml "go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/imdsguard/imdsguard/internal/model"
)

// selector reads a label selector field. A null or empty selector selects
// everything.
func (w *walker) selector(f *field, path string) *model.Selector {
	sel := &model.Selector{Source: w.d.source(f.k), Compiled: labels.Nothing()}
	m := w.mapping(f.v, path)
	w.strict(m, "matchLabels", "matchExpressions")
	before := len(w.errs)
	sel.MatchLabels = w.labels(m.value("matchLabels"), join(path, "matchLabels"))
	exprPath := join(path, "matchExpressions")
	for i, e := range w.seq(m.value("matchExpressions"), exprPath) {
		if r, ok := w.requirement(e, index(exprPath, i)); ok {
			sel.MatchExpressions = append(sel.MatchExpressions, r)
		}
	}
	if len(w.errs) > before {
		return sel
	}
	compiled, err := metav1.LabelSelectorAsSelector(asLabelSelector(sel))
	if err != nil {
		w.failf(f.k, path, "invalid selector: %v", err)
		return sel
	}
	sel.Compiled = compiled
	return sel
}

// requirement reads one matchExpressions entry.
func (w *walker) requirement(n *yaml.Node, path string) (model.Requirement, bool) {
	var r model.Requirement
	m := w.mapping(n, path)
	if m == nil {
		if isNull(w.resolve(n)) {
			w.failf(n, path, "expected a mapping, got null")
		}
		return r, false
	}
	w.strict(m, "key", "operator", "values")
	before := len(w.errs)
	r.Key = w.requiredStr(m, path, "key")
	r.Operator = w.requiredStr(m, path, "operator")
	r.Values = w.strings(m.value("values"), join(path, "values"))
	if len(w.errs) > before {
		return r, false
	}
	switch r.Operator {
	case "In", "NotIn":
		if len(r.Values) == 0 {
			w.failf(m.node, join(path, "values"), "must not be empty for operator %s", r.Operator)
		}
	case "Exists", "DoesNotExist":
		if len(r.Values) > 0 {
			w.failf(m.node, join(path, "values"), "must be empty for operator %s", r.Operator)
		}
	default:
		w.failf(m.node, join(path, "operator"), "unsupported operator %q (want In, NotIn, Exists or DoesNotExist)", r.Operator)
	}
	return r, len(w.errs) == before
}

// asLabelSelector converts a selector back to the API type apimachinery
// compiles.
func asLabelSelector(sel *model.Selector) *metav1.LabelSelector {
	ls := &metav1.LabelSelector{MatchLabels: sel.MatchLabels}
	for _, r := range sel.MatchExpressions {
		ls.MatchExpressions = append(ls.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: r.Key, Operator: metav1.LabelSelectorOperator(r.Operator), Values: r.Values,
		})
	}
	return ls
}
