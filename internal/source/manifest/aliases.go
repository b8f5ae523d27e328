package manifest

import (
	yaml "go.yaml.in/yaml/v3"
)

// checkAliases walks a document with its aliases expanded, as a Kubernetes
// decoder would, and fails when the expansion is far larger than any real
// manifest needs or contains itself. It walks with its own stack, so deep
// nesting cannot exhaust the goroutine stack. fileSpent carries the nodes
// expanded by earlier documents of the file, which share a larger budget.
func checkAliases(root *yaml.Node, fileSpent *int) (*yaml.Node, string) {
	type frame struct {
		n       *yaml.Node
		next    int
		viaLink bool // reached through an alias
	}
	stack := []frame{{n: root}}
	active := map[*yaml.Node]bool{}
	aliases, expanded, inAlias := 0, 0, 0
	// outer is the alias, written outside any expansion, being expanded:
	// the place in the text to blame.
	var outer *yaml.Node
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next == len(top.n.Content) {
			if top.viaLink {
				delete(active, top.n)
				inAlias--
			}
			stack = stack[:len(stack)-1]
			continue
		}
		c := top.n.Content[top.next]
		at := c
		top.next++
		link := c.Kind == yaml.AliasNode && c.Alias != nil
		if link && inAlias == 0 {
			outer = c
		}
		if link {
			if aliases++; aliases > maxAliases {
				return outer, aliasBombMsg
			}
			if active[c.Alias] {
				return at, "alias *" + c.Value + " refers to a node that contains it"
			}
			c = c.Alias
		}
		if link || inAlias > 0 {
			if expanded, *fileSpent = expanded+1, *fileSpent+1; expanded > maxExpandedNodes || *fileSpent > maxFileExpandedNodes {
				return outer, aliasBombMsg
			}
		}
		if len(c.Content) == 0 {
			continue
		}
		if link {
			active[c] = true
			inAlias++
		}
		stack = append(stack, frame{n: c, viaLink: link})
	}
	return nil, ""
}
