package calicosel

import (
	"fmt"
	"strings"
)

// MaxLength and maxDepth bound what Parse accepts, so that a hostile
// input cannot make it slow or exhaust the stack.
const (
	MaxLength = 64 << 10
	maxDepth  = 128
)

// Parse reads a selector expression. The empty string (and one of only
// spaces) is all(). The grammar, loosest first:
//
//	or      = and { "||" and }
//	and     = unary { "&&" unary }
//	unary   = "!" unary | primary
//	primary = "(" or ")" | "all()" | "global()" | "has(" key ")"
//	        | key ( "==" | "!=" | "contains" | "starts with" | "ends with" ) string
//	        | key [ "not" ] "in" "{" [ string { "," string } ] "}"
//
// A string is quoted with ' or " and has no escapes.
func Parse(expr string) (*Selector, error) {
	if len(expr) > MaxLength {
		return nil, &SyntaxError{Offset: MaxLength, Msg: fmt.Sprintf("longer than %d bytes", MaxLength)}
	}
	p := &parser{s: expr}
	p.space()
	if p.pos == len(p.s) {
		return &Selector{raw: expr}, nil
	}
	root, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.space(); p.pos != len(p.s) {
		return nil, p.errorf("unexpected %q", p.rest())
	}
	return &Selector{raw: expr, root: root}, nil
}

// MustParse is Parse for expressions known to be valid, in tests.
func MustParse(expr string) *Selector {
	s, err := Parse(expr)
	if err != nil {
		panic(err)
	}
	return s
}

type parser struct {
	s   string
	pos int
}

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

// rest is what is left, shortened for messages.
func (p *parser) rest() string {
	r := p.s[p.pos:]
	if len(r) > 20 {
		r = r[:20] + "..."
	}
	return r
}

func (p *parser) space() {
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
}

// take consumes tok (after spaces) if it comes next.
func (p *parser) take(tok string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

// word consumes a keyword that is not the start of a longer key.
func (p *parser) word(w string) bool {
	p.space()
	if !strings.HasPrefix(p.s[p.pos:], w) {
		return false
	}
	if end := p.pos + len(w); end < len(p.s) && isKeyByte(p.s[end]) {
		return false
	}
	p.pos += len(w)
	return true
}

func (p *parser) or(depth int) (node, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.take("||") {
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *parser) and(depth int) (node, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.take("&&") {
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

func (p *parser) unary(depth int) (node, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested deeper than %d", maxDepth)
	}
	if p.take("!") {
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	}
	return p.primary(depth)
}

func (p *parser) primary(depth int) (node, error) {
	switch {
	case p.take("("):
		x, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.take(")") {
			return nil, p.errorf("expected \")\"")
		}
		return x, nil
	case p.call("all"):
		return allNode{}, nil
	case p.call("global"):
		return globalNode{}, nil
	case p.word("has"):
		if !p.take("(") {
			return nil, p.errorf("expected \"(\" after has")
		}
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		if !p.take(")") {
			return nil, p.errorf("expected \")\" after has(%s", k)
		}
		return hasNode{k}, nil
	}
	k, err := p.key()
	if err != nil {
		return nil, err
	}
	return p.comparison(k)
}

// call consumes "name()" with optional spaces inside.
func (p *parser) call(name string) bool {
	save := p.pos
	if p.word(name) && p.take("(") && p.take(")") {
		return true
	}
	p.pos = save
	return false
}

func (p *parser) comparison(k string) (node, error) {
	n := cmpNode{key: k}
	switch {
	case p.take("=="):
		n.op = "=="
	case p.take("!="):
		n.op, n.negated = "==", true
	case p.word("contains"):
		n.op = "contains"
	case p.word("starts"):
		if !p.word("with") {
			return nil, p.errorf("expected \"with\" after starts")
		}
		n.op = "starts with"
	case p.word("ends"):
		if !p.word("with") {
			return nil, p.errorf("expected \"with\" after ends")
		}
		n.op = "ends with"
	case p.word("in"):
		n.op = "in"
	case p.word("not"):
		if !p.word("in") {
			return nil, p.errorf("expected \"in\" after not")
		}
		n.op, n.negated = "in", true
	default:
		if p.pos == len(p.s) {
			return nil, p.errorf("expected an operator after %q, got the end", k)
		}
		return nil, p.errorf("expected an operator after %q, got %q", k, p.rest())
	}
	if n.op != "in" {
		v, err := p.str()
		if err != nil {
			return nil, err
		}
		n.values = []string{v}
		return n, nil
	}
	if !p.take("{") {
		return nil, p.errorf("expected \"{\" after in")
	}
	if p.take("}") {
		return n, nil
	}
	for {
		v, err := p.str()
		if err != nil {
			return nil, err
		}
		n.values = append(n.values, v)
		if p.take("}") {
			return n, nil
		}
		if !p.take(",") {
			return nil, p.errorf("expected \",\" or \"}\" in a set")
		}
	}
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '/' || c == '-'
}

// key reads a label key.
func (p *parser) key() (string, error) {
	p.space()
	start := p.pos
	for p.pos < len(p.s) && isKeyByte(p.s[p.pos]) {
		p.pos++
	}
	if p.pos == start {
		if p.pos == len(p.s) {
			return "", p.errorf("expected a label key, got the end")
		}
		return "", p.errorf("expected a label key, got %q", p.rest())
	}
	return p.s[start:p.pos], nil
}

// str reads a quoted string.
func (p *parser) str() (string, error) {
	p.space()
	if p.pos == len(p.s) || (p.s[p.pos] != '\'' && p.s[p.pos] != '"') {
		return "", p.errorf("expected a quoted string")
	}
	q := p.s[p.pos]
	end := strings.IndexByte(p.s[p.pos+1:], q)
	if end < 0 {
		return "", p.errorf("unterminated string")
	}
	v := p.s[p.pos+1 : p.pos+1+end]
	p.pos += end + 2
	return v, nil
}
