package model

import (
	"maps"
	"slices"
	"strings"
)

// Pinned reports whether the template limits the nodes its pods may run on.
func (t *PodTemplate) Pinned() bool {
	return len(t.NodeSelector) > 0 || t.NodeAffinity != nil
}

// PlacementKey renders the node selector and required node affinity so
// that templates that may run on the same nodes have the same key, and ""
// when the template is not pinned. Requirements keep their order.
func (t *PodTemplate) PlacementKey() string {
	if !t.Pinned() {
		return ""
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(t.NodeSelector)) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(t.NodeSelector[k])
		b.WriteByte(0)
	}
	for _, term := range t.NodeAffinity {
		b.WriteByte('|')
		for _, set := range [][]Requirement{term.MatchExpressions, term.MatchFields} {
			b.WriteByte('&')
			for _, r := range set {
				b.WriteString(r.Key)
				b.WriteByte(' ')
				b.WriteString(r.Operator)
				for _, v := range r.Values {
					b.WriteByte(' ')
					b.WriteString(v)
				}
				b.WriteByte(0)
			}
		}
	}
	return b.String()
}
