package terraform

import "github.com/zclconf/go-cty/cty"

// tree collects the values of references by path (var.x, aws_x.y.attr) and
// turns them into the nested objects an hcl.EvalContext wants. A value set
// at a shorter path wins over values under it: an unknown resource hides
// its attributes.
type tree map[string]any // each entry is a tree or a cty.Value

func (t tree) set(path []string, v cty.Value) {
	node := t
	for i, p := range path {
		if i == len(path)-1 {
			node[p] = v
			return
		}
		switch next := node[p].(type) {
		case tree:
			node = next
		case cty.Value:
			return
		default:
			sub := tree{}
			node[p] = sub
			node = sub
		}
	}
}

func (t tree) objects() map[string]cty.Value {
	out := make(map[string]cty.Value, len(t))
	for k, v := range t {
		switch v := v.(type) {
		case tree:
			out[k] = cty.ObjectVal(v.objects())
		case cty.Value:
			out[k] = v
		}
	}
	return out
}
