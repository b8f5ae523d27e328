package yamlsubset

import (
	yaml "go.yaml.in/yaml/v3"
)

// flow reads a flow mapping or sequence that closes on this line, and
// returns the offset after it. Entries are scalars and nested flows;
// mappings in sequences, empty entries and trailing commas are left to
// yaml.v3.
func (p *parser) flow(pos, end int) (*yaml.Node, int) {
	if p.depth++; p.depth > maxDepth {
		panic(decline{})
	}
	defer func() { p.depth-- }()
	open := p.src[pos]
	kind, tag, closer := yaml.SequenceNode, "!!seq", byte(']')
	if open == '{' {
		kind, tag, closer = yaml.MappingNode, "!!map", '}'
	}
	n := p.node(kind, tag, p.lines[p.i].num, p.col(pos)+1)
	n.Style = yaml.FlowStyle
	base := len(p.stack)
	i := skipBlanks(p.src, pos+1, end)
	if i < end && p.src[i] == closer {
		return n, i + 1
	}
	for {
		var item *yaml.Node
		if kind == yaml.MappingNode {
			item, i = p.flowItem(i, end, true)
			if i+1 >= end || p.src[i] != ':' || p.src[i+1] != ' ' {
				panic(decline{})
			}
			p.stack = append(p.stack, item)
			item, i = p.flowItem(skipBlanks(p.src, i+1, end), end, false)
		} else {
			item, i = p.flowItem(i, end, false)
		}
		p.stack = append(p.stack, item)
		if i == end {
			panic(decline{})
		}
		if p.src[i] == closer {
			i++
			break
		}
		if p.src[i] != ',' {
			panic(decline{})
		}
		i = skipBlanks(p.src, i+1, end)
		if i == end || p.src[i] == closer || p.src[i] == ',' {
			panic(decline{})
		}
	}
	n.Content = p.collect(p.stack[base:])
	p.stack = p.stack[:base]
	return n, i
}

// flowItem reads one scalar or nested flow inside a flow, and returns the
// offset of the first non-blank after it. A key must end at a colon.
func (p *parser) flowItem(pos, end int, key bool) (*yaml.Node, int) {
	if pos == end {
		panic(decline{})
	}
	var n *yaml.Node
	switch c := p.src[pos]; {
	case c == '{' || c == '[':
		if key {
			panic(decline{})
		}
		n, pos = p.flow(pos, end)
	case c == '"' || c == '\'':
		var ok bool
		if n, pos, ok = p.quoted(pos, end); !ok {
			panic(decline{})
		}
	case plainStart(p.src, pos, end, true):
		val, stop := plainEnd(p.src, pos, end, true)
		if stop == stopDecline || (stop == stopColon) != key {
			panic(decline{})
		}
		n, pos = p.scalar(p.src[pos:val], p.lines[p.i].num, p.col(pos)+1), val
	default:
		panic(decline{})
	}
	return n, skipBlanks(p.src, pos, end)
}
