package manifest

import (
	"fmt"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
)

// nodeNameField is the one node field a nodeSelectorTerm's matchFields
// may name.
const nodeNameField = "metadata.name"

// placement reads where a pod may be scheduled: spec.nodeSelector and the
// required node affinity. Errors are recorded, and an object with errors
// is not read at all (its namespace is then incomplete).
func (w *walker) placement(spec *mapping, specPath string) (model.Labels, []model.NodeSelectorTerm) {
	sel := w.labels(spec.value("nodeSelector"), join(specPath, "nodeSelector"))
	affinity := w.mapping(spec.value("affinity"), join(specPath, "affinity"))
	na := w.mapping(affinity.value("nodeAffinity"), join(specPath, "affinity.nodeAffinity"))
	var terms []model.NodeSelectorTerm
	if req := na.get("requiredDuringSchedulingIgnoredDuringExecution"); req != nil && !isNull(w.resolve(req.v)) {
		terms = w.nodeSelector(req, join(specPath, "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"))
	}
	if len(sel) == 0 {
		sel = nil
	}
	return sel, terms
}

// nodeSelector reads a core/v1 NodeSelector: its nodeSelectorTerms, of which
// there must be at least one.
func (w *walker) nodeSelector(f *field, path string) []model.NodeSelectorTerm {
	m := w.mapping(f.v, path)
	if m == nil {
		return nil
	}
	termsPath := join(path, "nodeSelectorTerms")
	items := w.seq(m.value("nodeSelectorTerms"), termsPath)
	if len(items) == 0 {
		w.failf(f.k, termsPath, "must have at least one node selector term")
		return nil
	}
	terms := make([]model.NodeSelectorTerm, 0, len(items))
	for i, it := range items {
		tp := index(termsPath, i)
		tm := w.mapping(it, tp)
		var t model.NodeSelectorTerm
		if tm != nil {
			t.MatchExpressions = w.nodeRequirements(tm.value("matchExpressions"), join(tp, "matchExpressions"), false)
			t.MatchFields = w.nodeRequirements(tm.value("matchFields"), join(tp, "matchFields"), true)
		}
		terms = append(terms, t)
	}
	return terms
}

// nodeRequirements reads the requirements of a term, on node labels or,
// with fields, on node fields, with the checks the API server makes.
func (w *walker) nodeRequirements(n *yaml.Node, path string, fields bool) []model.Requirement {
	var out []model.Requirement
	for i, it := range w.seq(n, path) {
		p := index(path, i)
		m := w.mapping(it, p)
		if m == nil {
			if isNull(w.resolve(it)) {
				w.failf(it, p, "expected a mapping, got null")
			}
			continue
		}
		before := len(w.errs)
		r := model.Requirement{Key: w.requiredStr(m, p, "key"), Operator: w.requiredStr(m, p, "operator"),
			Values: w.strings(m.value("values"), join(p, "values"))}
		if len(w.errs) > before {
			continue
		}
		if field, msg := nodeRequirementError(r, fields); msg != "" {
			w.failf(m.node, join(p, field), "%s", msg)
			continue
		}
		out = append(out, r)
	}
	return out
}

// nodeRequirementError says what the API server finds wrong with a node
// selector requirement, and in which of its fields, or "".
func nodeRequirementError(r model.Requirement, fields bool) (string, string) {
	if fields {
		switch {
		case r.Key != nodeNameField:
			return "key", fmt.Sprintf("%q is not a valid field selector key (want %s)", r.Key, nodeNameField)
		case r.Operator != "In" && r.Operator != "NotIn":
			return "operator", fmt.Sprintf("unsupported operator %q for a node field selector (want In or NotIn)", r.Operator)
		case len(r.Values) != 1:
			return "values", "must be a single value for a node field selector"
		}
		return "", ""
	}
	switch r.Operator {
	case "In", "NotIn":
		if len(r.Values) == 0 {
			return "values", "must not be empty for operator " + r.Operator
		}
	case "Exists", "DoesNotExist":
		if len(r.Values) > 0 {
			return "values", "must be empty for operator " + r.Operator
		}
	case "Gt", "Lt":
		if len(r.Values) != 1 {
			return "values", "must be a single value for operator " + r.Operator
		}
	default:
		return "operator", fmt.Sprintf("unsupported operator %q (want In, NotIn, Exists, DoesNotExist, Gt or Lt)", r.Operator)
	}
	return "", ""
}
