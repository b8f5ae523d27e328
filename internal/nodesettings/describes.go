package nodesettings

import "github.com/imdsguard/imdsguard/internal/model"

// Describes reports whether cfg describes node: cfg states node labels, and
// all of them are on the node. A config that states none (a bare launch
// template, an instance) describes no node in particular.
func Describes(cfg *model.NodeConfig, node *model.Node) bool {
	if len(cfg.NodeLabels) == 0 {
		return false
	}
	for k, v := range cfg.NodeLabels {
		if l, ok := node.Labels[k]; !ok || l != v {
			return false
		}
	}
	return true
}
