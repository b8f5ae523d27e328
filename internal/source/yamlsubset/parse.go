// Package yamlsubset builds go.yaml.in/yaml/v3 node trees for the plain
// block-style YAML that almost every manifest is written in, several times
// faster than yaml.v3 itself. Anything outside that subset (anchors, tags,
// block scalars, multi-line scalars and flows, tabs, non-ASCII text, and
// every error) is declined, and the caller decodes the document with
// yaml.v3 as before, so errors and unusual input are yaml.v3's alone.
//
// A tree from Parse equals the one yaml.Unmarshal builds for the same
// bytes, except that comments are not kept (the loaders never read them).
// The differential test and the fuzz target hold it to that.
package yamlsubset

import (
	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/slab"
)

// maxDepth bounds nesting; deeper documents are left to yaml.v3, which has
// limits of its own.
const maxDepth = 64

// maxKeyLen is yaml.v3's limit on an implicit key (1024 characters); longer
// keys are left to it.
const maxKeyLen = 1000

// Parse returns the document node of src, a single YAML document (it may
// start with a `---` line), and true; or nil and false when src is not
// within the subset, in which case the caller must decode it with yaml.v3.
// The scalar values of the tree are substrings of src: copy those that are
// kept, or they keep all of src.
func Parse(src string) (*yaml.Node, bool) {
	return new(Parser).Parse(src)
}

// A Parser parses documents one after another and reuses its memory: the
// tree Parse returns is valid only until the next call. The zero value is
// ready to use; a Parser is not safe for concurrent use.
type Parser struct {
	p parser
}

// Parse is the package's Parse, building the tree in the parser's memory.
func (pp *Parser) Parse(src string) (doc *yaml.Node, ok bool) {
	p := &pp.p
	p.reset(src)
	if !p.split(src) || len(p.lines) == 0 {
		return nil, false
	}
	defer func() {
		if r := recover(); r != nil {
			if _, is := r.(decline); !is {
				panic(r)
			}
			doc, ok = nil, false
		}
	}()
	return p.docNode(), true
}

// decline unwinds the parser when the input leaves the subset.
type decline struct{}

// line is one line that holds more than blanks and a comment.
type line struct {
	num    int // 1-based line number
	start  int // offset of the first non-blank byte
	end    int // offset after the last byte, without the line break
	indent int // start minus the line's offset
}

type parser struct {
	src   string
	lines []line
	i     int // the line being read
	depth int
	first int  // line number of the first line with content (or of ---)
	start bool // src starts with a --- line
	nodes slab.Slab[yaml.Node]
	ptrs  slab.Slab[*yaml.Node] // Content slices
	stack []*yaml.Node          // children of the collections being read
	// tags caches the tags of plain scalars that take yaml.v3's resolution.
	tags map[string]string
}

// reset prepares the parser for another document, keeping its memory.
func (p *parser) reset(src string) {
	*p = parser{src: src, lines: p.lines[:0], nodes: p.nodes, ptrs: p.ptrs, stack: p.stack[:0], tags: p.tags}
	p.nodes.Reset()
	p.ptrs.Reset()
}

// split finds the content lines, and declines text the subset does not
// cover: bytes other than printable ASCII and line breaks, directives and
// document markers past the first line.
func (p *parser) split(b string) bool {
	num := 1
	for off := 0; off < len(b); num++ {
		end := off
		for end < len(b) && b[end] != '\n' {
			c := b[end]
			if c < 0x20 && c != '\r' || c > 0x7e {
				return false
			}
			end++
		}
		next := end + 1
		if end > off && b[end-1] == '\r' {
			end--
		}
		for i := off; i < end; i++ {
			if b[i] == '\r' {
				return false // a lone CR also breaks lines
			}
		}
		if !p.addLine(b, num, off, end) {
			return false
		}
		off = next
	}
	return true
}

// addLine records one line of text [off, end).
func (p *parser) addLine(b string, num, off, end int) bool {
	s := off
	for s < end && b[s] == ' ' {
		s++
	}
	if end-off >= 3 && (b[off] == '-' && b[off+1] == '-' && b[off+2] == '-' || b[off] == '.' && b[off+1] == '.' && b[off+2] == '.') &&
		(end-off == 3 || b[off+3] == ' ') {
		// A document marker: allowed only as the first line, bare or
		// followed by a comment.
		if num != 1 || b[off] == '.' || !blankOrComment(b[off+3:end]) {
			return false
		}
		p.start, p.first = true, num
		return true
	}
	if s == end || b[s] == '#' {
		return true
	}
	if s == off && b[s] == '%' {
		return false // a directive
	}
	if p.first == 0 {
		p.first = num
	}
	p.lines = append(p.lines, line{num: num, start: s, end: end, indent: s - off})
	return true
}

// blankOrComment reports whether the rest of a line after a token is empty
// or a comment set off by a blank.
func blankOrComment(b string) bool {
	for i := range len(b) {
		c := b[i]
		switch {
		case c == ' ':
		case c == '#':
			return i > 0
		default:
			return false
		}
	}
	return true
}

// docNode reads the whole document.
func (p *parser) docNode() *yaml.Node {
	l := p.lines[0]
	// The document starts at its --- line, or else where its content does.
	doc := p.node(yaml.DocumentNode, "", l.num, l.indent+1)
	if p.start {
		doc.Line, doc.Column = p.first, 1
	}
	root := p.block(l.start)
	if p.i != len(p.lines) {
		panic(decline{})
	}
	doc.Content = p.collect([]*yaml.Node{root})
	return doc
}

// block reads the collection that starts at offset pos of the current line:
// a sequence, or a mapping.
func (p *parser) block(pos int) *yaml.Node {
	if p.depth++; p.depth > maxDepth {
		panic(decline{})
	}
	defer func() { p.depth-- }()
	if p.dash(pos) {
		return p.sequence(pos)
	}
	if _, _, ok := p.key(pos); ok {
		return p.mapping(pos)
	}
	panic(decline{})
}

// col is the 0-based column of an offset in the current line.
func (p *parser) col(pos int) int {
	l := p.lines[p.i]
	return pos - (l.start - l.indent)
}

// dash reports whether a block sequence entry starts at pos.
func (p *parser) dash(pos int) bool {
	end := p.lines[p.i].end
	return p.src[pos] == '-' && (pos+1 == end || p.src[pos+1] == ' ')
}

// mapping reads a block mapping whose first key is at pos.
func (p *parser) mapping(pos int) *yaml.Node {
	col := p.col(pos)
	m := p.node(yaml.MappingNode, "!!map", p.lines[p.i].num, col+1)
	base := len(p.stack)
	for {
		k, after, ok := p.key(pos)
		if !ok {
			panic(decline{})
		}
		p.stack = append(p.stack, k)
		p.stack = append(p.stack, p.mappingValue(col, after))
		var more bool
		if pos, more = p.next(col, false); !more {
			break
		}
	}
	m.Content = p.collect(p.stack[base:])
	p.stack = p.stack[:base]
	return m
}

// next returns where the next entry of a collection at column col starts,
// or false when the collection ends before the current line.
func (p *parser) next(col int, seq bool) (int, bool) {
	if p.i == len(p.lines) {
		return 0, false
	}
	l := p.lines[p.i]
	switch {
	case l.indent < col:
		return 0, false
	case l.indent > col:
		panic(decline{})
	case p.dash(l.start) != seq:
		// A sequence at its key's indentation ends at the next key; a
		// dash where a key belongs is an error.
		if seq {
			return 0, false
		}
		panic(decline{})
	}
	return l.start, true
}

// mappingValue reads the value of a key of a mapping at column col; after
// is the offset just past the key's colon.
func (p *parser) mappingValue(col, after int) *yaml.Node {
	l := p.lines[p.i]
	pos := skipBlanks(p.src, after, l.end)
	if pos < l.end && p.src[pos] != '#' {
		v := p.inline(pos)
		if p.i < len(p.lines) && p.lines[p.i].indent > col {
			panic(decline{}) // a multi-line scalar, or an error
		}
		return v
	}
	p.i++
	if p.i < len(p.lines) {
		next := p.lines[p.i]
		if next.indent > col {
			return p.block(next.start)
		}
		if next.indent == col && p.dash(next.start) {
			// A sequence may sit at its key's indentation.
			return p.sequence(next.start)
		}
	}
	// The empty value sits just past the colon.
	return p.null(l.num, after-(l.start-l.indent)+1)
}

// sequence reads a block sequence whose first dash is at pos.
func (p *parser) sequence(pos int) *yaml.Node {
	col := p.col(pos)
	s := p.node(yaml.SequenceNode, "!!seq", p.lines[p.i].num, col+1)
	base := len(p.stack)
	for {
		p.stack = append(p.stack, p.entry(col, pos))
		var more bool
		if pos, more = p.next(col, true); !more {
			break
		}
	}
	s.Content = p.collect(p.stack[base:])
	p.stack = p.stack[:base]
	return s
}

// entry reads the sequence entry whose dash, at column col, is at pos.
func (p *parser) entry(col, pos int) *yaml.Node {
	l := p.lines[p.i]
	v := skipBlanks(p.src, pos+1, l.end)
	switch {
	case v == l.end || p.src[v] == '#':
		p.i++
		if p.i < len(p.lines) && p.lines[p.i].indent > col {
			return p.block(p.lines[p.i].start)
		}
		return p.null(l.num, col+2)
	case p.dash(v):
		panic(decline{}) // a sequence in a sequence on one line
	}
	if _, _, ok := p.key(v); ok {
		return p.block(v)
	}
	n := p.inline(v)
	if p.i < len(p.lines) && p.lines[p.i].indent > col {
		panic(decline{})
	}
	return n
}

// key reads a mapping key at pos and reports the offset after its colon,
// or false when no key starts there.
func (p *parser) key(pos int) (*yaml.Node, int, bool) {
	l := p.lines[p.i]
	k, end, _, ok := p.blockScalar(pos)
	if !ok {
		return nil, 0, false
	}
	if end-pos > maxKeyLen {
		panic(decline{})
	}
	end = skipBlanks(p.src, end, l.end)
	if end < l.end && p.src[end] == ':' && (end+1 == l.end || p.src[end+1] == ' ') {
		return k, end + 1, true
	}
	return nil, 0, false
}

// blockScalar reads a quoted or plain scalar at pos, and returns it with the
// offset after it and, for a plain one, what ended it. It reports false when
// no scalar starts there.
func (p *parser) blockScalar(pos int) (n *yaml.Node, end, stop int, ok bool) {
	l := p.lines[p.i]
	switch c := p.src[pos]; {
	case c == '"' || c == '\'':
		n, end, ok = p.quoted(pos, l.end)
		return n, end, stopEnd, ok
	case plainStart(p.src, pos, l.end, false):
		end, stop = plainEnd(p.src, pos, l.end, false)
		return p.scalar(p.src[pos:end], l.num, p.col(pos)+1), end, stop, true
	}
	return nil, 0, 0, false
}

// inline reads a value that ends on the current line: a scalar or a flow
// collection, then at most a comment. It moves to the next line.
func (p *parser) inline(pos int) *yaml.Node {
	l := p.lines[p.i]
	var n *yaml.Node
	var end int
	if c := p.src[pos]; c == '{' || c == '[' {
		n, end = p.flow(pos, l.end)
	} else {
		var stop int
		var ok bool
		n, end, stop, ok = p.blockScalar(pos)
		if !ok || stop == stopColon {
			// stopColon: mapping values are not allowed here.
			panic(decline{})
		}
	}
	if !blankOrComment(p.src[end:l.end]) {
		panic(decline{})
	}
	p.i++
	return n
}

// skipBlanks returns the first offset from pos that is not a space.
func skipBlanks(s string, pos, end int) int {
	for pos < end && s[pos] == ' ' {
		pos++
	}
	return pos
}
