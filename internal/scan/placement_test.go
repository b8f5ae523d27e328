package scan

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/model"
)

func TestFits(t *testing.T) {
	group := nodeFacts{labels: model.Labels{"ng": "secure", "cores": "8"}}
	node := nodeFacts{labels: model.Labels{"ng": "secure", "cores": "8"}, complete: true, name: "node-1"}
	req := func(key, op string, values ...string) model.Requirement {
		return model.Requirement{Key: key, Operator: op, Values: values}
	}
	affinity := func(terms ...[]model.Requirement) []model.NodeSelectorTerm {
		out := make([]model.NodeSelectorTerm, len(terms))
		for i, t := range terms {
			out[i].MatchExpressions = t
		}
		return out
	}
	tests := []struct {
		name       string
		pod        model.PodTemplate
		group, got fit // on the group's partial labels, and on the node
	}{
		{"not pinned", model.PodTemplate{}, fitYes, fitYes},
		{"selector matches", model.PodTemplate{NodeSelector: model.Labels{"ng": "secure"}}, fitYes, fitYes},
		{"selector rules out", model.PodTemplate{NodeSelector: model.Labels{"ng": "general"}}, fitNo, fitNo},
		{"selector on a label not stated", model.PodTemplate{NodeSelector: model.Labels{"zone": "a"}}, fitMaybe, fitNo},
		{"In", model.PodTemplate{NodeAffinity: affinity([]model.Requirement{req("ng", "In", "a", "secure")})}, fitYes, fitYes},
		{"NotIn", model.PodTemplate{NodeAffinity: affinity([]model.Requirement{req("ng", "NotIn", "secure")})}, fitNo, fitNo},
		{"NotIn on a label not stated", model.PodTemplate{NodeAffinity: affinity([]model.Requirement{req("gpu", "NotIn", "yes")})}, fitMaybe, fitYes},
		{"Exists", model.PodTemplate{NodeAffinity: affinity([]model.Requirement{req("ng", "Exists")})}, fitYes, fitYes},
		{"DoesNotExist", model.PodTemplate{NodeAffinity: affinity([]model.Requirement{req("ng", "DoesNotExist")})}, fitNo, fitNo},
		{"DoesNotExist on a label not stated", model.PodTemplate{NodeAffinity: affinity([]model.Requirement{req("spot", "DoesNotExist")})}, fitMaybe, fitYes},
		{"Gt", model.PodTemplate{NodeAffinity: affinity([]model.Requirement{req("cores", "Gt", "4")})}, fitYes, fitYes},
		{"Lt", model.PodTemplate{NodeAffinity: affinity([]model.Requirement{req("cores", "Lt", "4")})}, fitNo, fitNo},
		{"Gt with a value that is no integer", model.PodTemplate{NodeAffinity: affinity([]model.Requirement{req("mem", "Gt", "lots")})}, fitNo, fitNo},
		{"every expression of a term", model.PodTemplate{NodeAffinity: affinity([]model.Requirement{req("ng", "In", "secure"), req("zone", "In", "a")})}, fitMaybe, fitNo},
		{"any term", model.PodTemplate{NodeAffinity: affinity([]model.Requirement{req("ng", "In", "general")}, []model.Requirement{req("ng", "In", "secure")})}, fitYes, fitYes},
		{"an empty term matches nothing", model.PodTemplate{NodeAffinity: affinity(nil)}, fitNo, fitNo},
		{"selector and affinity both", model.PodTemplate{NodeSelector: model.Labels{"ng": "general"}, NodeAffinity: affinity([]model.Requirement{req("ng", "Exists")})}, fitNo, fitNo},
		{"node name", model.PodTemplate{NodeAffinity: []model.NodeSelectorTerm{{MatchFields: []model.Requirement{req("metadata.name", "In", "node-2")}}}}, fitMaybe, fitNo},
		{"not that node name", model.PodTemplate{NodeAffinity: []model.NodeSelectorTerm{{MatchFields: []model.Requirement{req("metadata.name", "NotIn", "node-2")}}}}, fitMaybe, fitYes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fits(&tt.pod, group); got != tt.group {
				t.Errorf("on the group: %d, want %d", got, tt.group)
			}
			if got := fits(&tt.pod, node); got != tt.got {
				t.Errorf("on the node: %d, want %d", got, tt.got)
			}
		})
	}
}
