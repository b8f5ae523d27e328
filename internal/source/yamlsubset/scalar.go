package yamlsubset

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// How a plain scalar ended.
const (
	stopEnd     = iota // the end of the line, or a comment
	stopColon          // a colon followed by a blank: the scalar is a key
	stopFlow           // a flow indicator
	stopDecline        // something the subset leaves to yaml.v3
)

// plainStart reports whether a plain scalar starts at pos. Of the
// indicators that may also start one when a non-blank follows, `-` (as in
// -1) may anywhere, `?` and `:` (as in ::/0) only outside flows.
func plainStart(s string, pos, end int, flow bool) bool {
	switch s[pos] {
	case ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ':
		return false
	case '-':
		return pos+1 < end && s[pos+1] != ' ' && !(flow && strings.IndexByte(",[]{}", s[pos+1]) >= 0)
	case '?', ':':
		return !flow && pos+1 < end && s[pos+1] != ' '
	}
	return true
}

// plainEnd finds the end of a plain scalar that starts at pos, without its
// trailing blanks, and what ended it.
func plainEnd(s string, pos, end int, flow bool) (int, int) {
	last := pos // just past the last non-blank
	for i := pos; i < end; i++ {
		switch c := s[i]; c {
		case ' ':
			if i+1 < end && s[i+1] == '#' {
				if flow {
					return last, stopDecline // the flow would go on past the line
				}
				return last, stopEnd
			}
			continue
		case ':':
			if i+1 == end || s[i+1] == ' ' {
				return last, stopColon
			}
			if flow && strings.IndexByte(",[]{}?", s[i+1]) >= 0 {
				return last, stopDecline
			}
		case ',', '[', ']', '{', '}', '?':
			if flow {
				return last, stopFlow
			}
		}
		last = i + 1
	}
	if flow {
		return last, stopDecline
	}
	return last, stopEnd
}

// quoted reads a single- or double-quoted scalar that closes on this line,
// and returns the offset after the closing quote. Escapes other than the
// common few are left to yaml.v3.
func (p *parser) quoted(pos, end int) (*yaml.Node, int, bool) {
	q := p.src[pos]
	var b []byte // the value, once it differs from the text
	from := pos + 1
	for i := from; i < end; i++ {
		c := p.src[i]
		switch {
		case c == q && q == '\'' && i+1 < end && p.src[i+1] == '\'':
			b = append(append(b, p.src[from:i]...), '\'')
			i++
			from = i + 1
		case c == q:
			var v string
			if b == nil {
				v = p.src[pos+1 : i]
			} else {
				v = string(append(b, p.src[from:i]...))
			}
			n := p.node(yaml.ScalarNode, "!!str", p.lines[p.i].num, p.col(pos)+1)
			n.Value = v
			if q == '"' {
				n.Style = yaml.DoubleQuotedStyle
			} else {
				n.Style = yaml.SingleQuotedStyle
			}
			return n, i + 1, true
		case c == '\\' && q == '"':
			if i+1 == end {
				return nil, 0, false
			}
			e, ok := escapes[p.src[i+1]]
			if !ok {
				return nil, 0, false
			}
			b = append(append(b, p.src[from:i]...), e)
			i++
			from = i + 1
		}
	}
	return nil, 0, false
}

// escapes are the double-quoted escapes the subset reads itself.
var escapes = map[byte]byte{'\\': '\\', '"': '"', '/': '/', 'n': '\n', 't': '\t', 'r': '\r', '0': 0}

// scalar makes a plain scalar node, tagged as yaml.v3 resolves it.
func (p *parser) scalar(v string, line, col int) *yaml.Node {
	n := p.node(yaml.ScalarNode, "", line, col)
	n.Value = v
	n.Tag = p.plainTag(v)
	return n
}

// maxTags bounds the cache of resolved tags.
const maxTags = 4096

// plainTag is the tag yaml.v3 gives a plain scalar. Values that cannot be
// anything but strings are told apart by their first byte, as yaml.v3 does;
// the rest go through yaml.v3's own resolution, whose answers are cached
// because numbers and addresses repeat.
func (p *parser) plainTag(v string) string {
	if v == "<<" {
		return "!!merge"
	}
	if v != "" && !strings.ContainsRune("+-0123456789yYnNtTfFoO~<.", rune(v[0])) {
		return "!!str"
	}
	if t, ok := p.tags[v]; ok {
		return t
	}
	n := yaml.Node{Kind: yaml.ScalarNode, Value: v}
	t := n.ShortTag()
	if p.tags == nil {
		p.tags = map[string]string{}
	}
	if len(p.tags) < maxTags {
		p.tags[strings.Clone(v)] = t
	}
	return t
}

// null makes the empty scalar that stands for a missing value.
func (p *parser) null(line, col int) *yaml.Node {
	return p.node(yaml.ScalarNode, "!!null", line, col)
}

// node takes a fresh node.
func (p *parser) node(kind yaml.Kind, tag string, line, col int) *yaml.Node {
	n := &p.nodes.Take(1)[0]
	*n = yaml.Node{Kind: kind, Tag: tag, Line: line, Column: col}
	return n
}

// collect copies children into a Content slice of their own.
func (p *parser) collect(children []*yaml.Node) []*yaml.Node {
	if len(children) == 0 {
		return nil
	}
	c := p.ptrs.Take(len(children))
	copy(c, children)
	return c
}
