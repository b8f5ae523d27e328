package scan

import (
	"slices"
	"strconv"

	"github.com/imdsguard/imdsguard/internal/model"
)

// fit says whether a pod may be scheduled on some nodes: surely not, maybe
// (what is known of the nodes does not decide it), or surely.
type fit int

const (
	fitNo fit = iota
	fitMaybe
	fitYes
)

// nodeFacts is what is known of the nodes a node setting describes: labels
// they all carry, and, for a Node object, all of its labels and its name.
type nodeFacts struct {
	labels model.Labels
	// complete is true when labels are all the node's labels and name is
	// its name (a Node object). Otherwise a label not in labels may or may
	// not be on the nodes, with any value.
	complete bool
	name     string
}

// fits says whether pods of t may run on the nodes, following the
// scheduler: every nodeSelector label, and one of the required node
// affinity's terms, each with all of its requirements. A term with no
// requirements, or one the scheduler cannot parse (Gt or Lt with a value
// that is not an integer), matches no node.
func fits(t *model.PodTemplate, n nodeFacts) fit {
	out := fitYes
	for k, v := range t.NodeSelector {
		out = min(out, n.label(model.Requirement{Key: k, Operator: "In", Values: []string{v}}))
	}
	if t.NodeAffinity != nil {
		any := fitNo
		for _, term := range t.NodeAffinity {
			any = max(any, n.term(term))
		}
		out = min(out, any)
	}
	return out
}

func (n nodeFacts) term(t model.NodeSelectorTerm) fit {
	if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
		return fitNo
	}
	out := fitYes
	for _, r := range t.MatchExpressions {
		out = min(out, n.label(r))
	}
	for _, r := range t.MatchFields {
		out = min(out, n.field(r))
	}
	return out
}

// label evaluates a requirement on node labels.
func (n nodeFacts) label(r model.Requirement) fit {
	v, ok := n.labels[r.Key]
	bound, boundErr := int64(0), error(nil)
	if r.Operator == "Gt" || r.Operator == "Lt" {
		if bound, boundErr = single(r.Values); boundErr != nil {
			return fitNo // the scheduler cannot parse the term
		}
	}
	if !ok && !n.complete {
		return fitMaybe
	}
	var yes bool
	switch r.Operator {
	case "In":
		yes = ok && slices.Contains(r.Values, v)
	case "NotIn":
		yes = !ok || !slices.Contains(r.Values, v)
	case "Exists":
		yes = ok
	case "DoesNotExist":
		yes = !ok
	case "Gt", "Lt":
		have, err := strconv.ParseInt(v, 10, 64)
		yes = ok && err == nil && (r.Operator == "Gt" && have > bound || r.Operator == "Lt" && have < bound)
	}
	if yes {
		return fitYes
	}
	return fitNo
}

// field evaluates a requirement on node fields: metadata.name, In or NotIn.
func (n nodeFacts) field(r model.Requirement) fit {
	if !n.complete || r.Key != "metadata.name" {
		return fitMaybe
	}
	in := slices.Contains(r.Values, n.name)
	if in == (r.Operator == "In") {
		return fitYes
	}
	return fitNo
}

// single parses the one integer value of a Gt or Lt requirement.
func single(values []string) (int64, error) {
	if len(values) != 1 {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(values[0], 10, 64)
}
