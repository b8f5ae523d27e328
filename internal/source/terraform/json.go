package terraform

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Terraform's JSON syntax (.tf.json) is read by turning it into the same
// syntax tree as native files, so that everything downstream (evaluation,
// references, file:line) is shared. JSON cannot tell a nested block from an
// object argument; a provider's schema can, which is not read here, so the
// blocks the extractors look into are named below and every other object
// is an argument. A string is a template, as in Terraform ("${...}"),
// except for a variable's default and a module's source, which are
// literal; a variable's type is an expression.

// jsonBlocks are the nested blocks of resources that are read.
var jsonBlocks = map[string]bool{
	"metadata_options": true, "launch_template": true, "mixed_instances_policy": true,
	"launch_template_specification": true, "node_config": true, "workload_metadata_config": true,
	"workload_identity_config": true, "node_pool": true, "default_node_pool": true, "content": true,
}

// jsonLabels are the top-level block types and how many labels each has.
var jsonLabels = map[string]int{"resource": 2, "data": 2, "variable": 1, "module": 1, "output": 1, "locals": 0}

// parseJSONConfig parses a .tf.json file into a native syntax body.
func parseJSONConfig(src []byte, filename string) (*hclsyntax.Body, hcl.Diagnostics) {
	p := &jsonParser{src: src, file: filename}
	root, err := p.document()
	if err != nil {
		return nil, err
	}
	c := &jsonConverter{file: filename}
	if root.kind != jObject {
		return nil, c.fail(root.rng, "the root of a .tf.json file must be an object")
	}
	body := &hclsyntax.Body{Attributes: hclsyntax.Attributes{}, SrcRange: root.rng, EndRange: root.rng}
	for _, kv := range root.obj {
		want, known := jsonLabels[kv.key]
		if !known {
			continue // terraform, provider...: nothing read
		}
		body.Blocks = append(body.Blocks, c.topBlocks(kv, want)...)
	}
	return body, c.diags
}

type jsonConverter struct {
	file  string
	diags hcl.Diagnostics
}

func (c *jsonConverter) fail(r hcl.Range, msg string) hcl.Diagnostics {
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: msg, Subject: r.Ptr()}
	c.diags = append(c.diags, d)
	return c.diags
}

// at places the diagnostics of a string's content at the string: its
// escapes (\n) would otherwise put them on lines the file does not have.
func (c *jsonConverter) at(diags hcl.Diagnostics, r hcl.Range) hcl.Diagnostics {
	for _, d := range diags {
		d.Subject = r.Ptr()
		d.Context = nil
	}
	return diags
}

// topBlocks turns "resource": {"type": {"name": {...}}} and the like into
// blocks, one label level per nested object.
func (c *jsonConverter) topBlocks(kv jPair, labels int) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	var walk func(v *jValue, names []string, ranges []hcl.Range)
	walk = func(v *jValue, names []string, ranges []hcl.Range) {
		if len(names) < labels {
			if v.kind != jObject {
				c.fail(v.rng, fmt.Sprintf("%s: expected an object keyed by the block's labels", kv.key))
				return
			}
			for _, in := range v.obj {
				walk(in.val, append(append([]string(nil), names...), in.key), append(append([]hcl.Range(nil), ranges...), in.keyRng))
			}
			return
		}
		header := kv.keyRng
		if len(ranges) > 0 {
			header = ranges[len(ranges)-1]
		}
		for _, b := range c.bodies(v, kv.key) {
			out = append(out, &hclsyntax.Block{Type: kv.key, Labels: names, Body: b, TypeRange: header,
				LabelRanges: ranges, OpenBraceRange: v.rng, CloseBraceRange: v.rng})
		}
	}
	walk(kv.val, nil, nil)
	return out
}

// bodies reads a block's body: an object, or an array of objects (the
// block written several times).
func (c *jsonConverter) bodies(v *jValue, blockType string) []*hclsyntax.Body {
	switch v.kind {
	case jObject:
		return []*hclsyntax.Body{c.body(v, blockType)}
	case jArray:
		var out []*hclsyntax.Body
		for _, it := range v.arr {
			if it.kind != jObject {
				c.fail(it.rng, blockType+": expected an object")
				continue
			}
			out = append(out, c.body(it, blockType))
		}
		return out
	}
	c.fail(v.rng, blockType+": expected an object")
	return nil
}

func (c *jsonConverter) body(v *jValue, blockType string) *hclsyntax.Body {
	b := &hclsyntax.Body{Attributes: hclsyntax.Attributes{}, SrcRange: v.rng, EndRange: v.rng}
	for _, kv := range v.obj {
		switch {
		case kv.key == "dynamic" && kv.val.kind == jObject:
			for _, d := range kv.val.obj {
				for _, db := range c.bodies(d.val, "dynamic") {
					b.Blocks = append(b.Blocks, &hclsyntax.Block{Type: "dynamic", Labels: []string{d.key}, Body: db,
						TypeRange: kv.keyRng, LabelRanges: []hcl.Range{d.keyRng}, OpenBraceRange: d.val.rng, CloseBraceRange: d.val.rng})
				}
			}
		case jsonBlocks[kv.key] && (kv.val.kind == jObject || kv.val.kind == jArray):
			for _, nb := range c.bodies(kv.val, kv.key) {
				b.Blocks = append(b.Blocks, &hclsyntax.Block{Type: kv.key, Body: nb, TypeRange: kv.keyRng,
					OpenBraceRange: kv.val.rng, CloseBraceRange: kv.val.rng})
			}
		default:
			var expr hclsyntax.Expression
			switch {
			case (blockType == "variable" && kv.key == "default") || (blockType == "module" && kv.key == "source"):
				expr = c.literal(kv.val)
			case blockType == "variable" && kv.key == "type" && kv.val.kind == jString:
				e, diags := hclsyntax.ParseExpression([]byte(kv.val.str), c.file, kv.val.rng.Start)
				c.diags = append(c.diags, c.at(diags, kv.val.rng)...)
				expr = e
			default:
				expr = c.expr(kv.val)
			}
			if expr == nil {
				continue
			}
			b.Attributes[kv.key] = &hclsyntax.Attribute{Name: kv.key, Expr: expr,
				SrcRange: hcl.RangeBetween(kv.keyRng, kv.val.rng), NameRange: kv.keyRng, EqualsRange: kv.keyRng}
		}
	}
	return b
}

// expr turns a value into an expression: strings are templates.
func (c *jsonConverter) expr(v *jValue) hclsyntax.Expression {
	switch v.kind {
	case jString:
		start := v.rng.Start
		start.Column++ // past the opening quote
		start.Byte++
		e, diags := hclsyntax.ParseTemplate([]byte(v.str), c.file, start)
		c.diags = append(c.diags, c.at(diags, v.rng)...)
		if w, ok := e.(*hclsyntax.TemplateWrapExpr); ok {
			return w.Wrapped // "${x}" is x itself, of any type
		}
		return e
	case jArray:
		t := &hclsyntax.TupleConsExpr{SrcRange: v.rng, OpenRange: v.rng}
		for _, it := range v.arr {
			t.Exprs = append(t.Exprs, c.expr(it))
		}
		return t
	case jObject:
		o := &hclsyntax.ObjectConsExpr{SrcRange: v.rng, OpenRange: v.rng}
		for _, kv := range v.obj {
			key := &hclsyntax.ObjectConsKeyExpr{Wrapped: &hclsyntax.LiteralValueExpr{Val: cty.StringVal(kv.key), SrcRange: kv.keyRng}}
			o.Items = append(o.Items, hclsyntax.ObjectConsItem{KeyExpr: key, ValueExpr: c.expr(kv.val)})
		}
		return o
	}
	return c.literal(v)
}

// literal turns a value into a constant, strings taken as they are.
func (c *jsonConverter) literal(v *jValue) hclsyntax.Expression {
	val, err := v.cty()
	if err != nil {
		c.fail(v.rng, err.Error())
		return nil
	}
	return &hclsyntax.LiteralValueExpr{Val: val, SrcRange: v.rng}
}

// cty converts a JSON value to a cty value, objects as objects.
func (v *jValue) cty() (cty.Value, error) {
	switch v.kind {
	case jString:
		return cty.StringVal(v.str), nil
	case jNumber:
		return cty.ParseNumberVal(v.str)
	case jBool:
		return cty.BoolVal(v.str == "true"), nil
	case jNull:
		return cty.NullVal(cty.DynamicPseudoType), nil
	case jArray:
		vals := make([]cty.Value, 0, len(v.arr))
		for _, it := range v.arr {
			x, err := it.cty()
			if err != nil {
				return cty.NilVal, err
			}
			vals = append(vals, x)
		}
		return cty.TupleVal(vals), nil
	}
	attrs := map[string]cty.Value{}
	for _, kv := range v.obj {
		x, err := kv.val.cty()
		if err != nil {
			return cty.NilVal, err
		}
		attrs[kv.key] = x
	}
	return cty.ObjectVal(attrs), nil
}

// JSON values with their positions.
type jKind int

const (
	jNull jKind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

type jValue struct {
	kind jKind
	str  string // a string's value, a number's or a boolean's text
	arr  []*jValue
	obj  []jPair
	rng  hcl.Range
}

type jPair struct {
	key    string
	keyRng hcl.Range
	val    *jValue
}

// jsonParser reads JSON keeping every value's range. Object keys keep
// their order; a key written twice is an error, as in Terraform.
type jsonParser struct {
	src   []byte
	file  string
	i     int
	lines []int // byte offsets of line starts
}

func (p *jsonParser) document() (*jValue, hcl.Diagnostics) {
	p.lines = []int{0}
	for i, b := range p.src {
		if b == '\n' {
			p.lines = append(p.lines, i+1)
		}
	}
	v, err := p.value(0)
	if err == nil {
		p.space()
		if p.i < len(p.src) {
			err = p.errorf("unexpected %q after the JSON value", p.src[p.i])
		}
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

const maxJSONDepth = 256

func (p *jsonParser) pos(i int) hcl.Pos {
	line := sort.Search(len(p.lines), func(l int) bool { return p.lines[l] > i }) - 1
	return hcl.Pos{Line: line + 1, Column: i - p.lines[line] + 1, Byte: i}
}

func (p *jsonParser) rangeOf(from, to int) hcl.Range {
	return hcl.Range{Filename: p.file, Start: p.pos(from), End: p.pos(to)}
}

func (p *jsonParser) errorf(format string, args ...any) hcl.Diagnostics {
	r := p.rangeOf(min(p.i, len(p.src)), min(p.i, len(p.src)))
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "invalid JSON: " + fmt.Sprintf(format, args...), Subject: &r}}
}

func (p *jsonParser) space() {
	for p.i < len(p.src) && (p.src[p.i] == ' ' || p.src[p.i] == '\t' || p.src[p.i] == '\n' || p.src[p.i] == '\r') {
		p.i++
	}
}

func (p *jsonParser) value(depth int) (*jValue, hcl.Diagnostics) {
	if depth > maxJSONDepth {
		return nil, p.errorf("nested more than %d deep", maxJSONDepth)
	}
	p.space()
	if p.i >= len(p.src) {
		return nil, p.errorf("unexpected end of file")
	}
	start := p.i
	switch b := p.src[p.i]; {
	case b == '{':
		return p.object(depth)
	case b == '[':
		p.i++
		v := &jValue{kind: jArray}
		for first := true; ; first = false {
			more, err := p.next(first, ']')
			if err != nil {
				return nil, err
			}
			if !more {
				break
			}
			it, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			v.arr = append(v.arr, it)
		}
		v.rng = p.rangeOf(start, p.i)
		return v, nil
	case b == '"':
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		return &jValue{kind: jString, str: s, rng: p.rangeOf(start, p.i)}, nil
	default:
		for p.i < len(p.src) && !isJSONDelimiter(p.src[p.i]) {
			p.i++
		}
		text := string(p.src[start:p.i])
		v := &jValue{str: text, rng: p.rangeOf(start, p.i)}
		switch {
		case text == "true" || text == "false":
			v.kind = jBool
		case text == "null":
			v.kind = jNull
		case json.Valid(p.src[start:p.i]) && text != "":
			v.kind = jNumber
		default:
			p.i = start
			return nil, p.errorf("unexpected %q", text)
		}
		return v, nil
	}
}

func isJSONDelimiter(b byte) bool {
	switch b {
	case ',', ']', '}', ':', ' ', '\t', '\n', '\r', '"', '{', '[':
		return true
	}
	return false
}

func (p *jsonParser) object(depth int) (*jValue, hcl.Diagnostics) {
	start := p.i
	p.i++
	v := &jValue{kind: jObject}
	seen := map[string]bool{}
	for first := true; ; first = false {
		more, err := p.next(first, '}')
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		if p.i >= len(p.src) || p.src[p.i] != '"' {
			return nil, p.errorf("expected a quoted object key")
		}
		keyStart := p.i
		key, err := p.string()
		if err != nil {
			return nil, err
		}
		keyRng := p.rangeOf(keyStart, p.i)
		if seen[key] {
			p.i = keyStart
			return nil, p.errorf("duplicate key %q", key)
		}
		seen[key] = true
		p.space()
		if p.i >= len(p.src) || p.src[p.i] != ':' {
			return nil, p.errorf("expected ':' after key %q", key)
		}
		p.i++
		val, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v.obj = append(v.obj, jPair{key: key, keyRng: keyRng, val: val})
	}
	v.rng = p.rangeOf(start, p.i)
	return v, nil
}

// next moves past the comma before the next item of an array or object,
// and reports false, past it, at the closing bracket.
func (p *jsonParser) next(first bool, closing byte) (bool, hcl.Diagnostics) {
	p.space()
	if p.i < len(p.src) && p.src[p.i] == closing {
		p.i++
		return false, nil
	}
	if !first {
		if p.i >= len(p.src) || p.src[p.i] != ',' {
			return false, p.errorf("expected ',' or '%c'", closing)
		}
		p.i++
		p.space()
	}
	return true, nil
}

// string reads a quoted string at p.i and decodes its escapes.
func (p *jsonParser) string() (string, hcl.Diagnostics) {
	start := p.i
	p.i++
	for p.i < len(p.src) && p.src[p.i] != '"' {
		if p.src[p.i] == '\\' {
			p.i++
		}
		p.i++
	}
	if p.i >= len(p.src) {
		p.i = start
		return "", p.errorf("unterminated string")
	}
	p.i++
	var s string
	if err := json.Unmarshal(p.src[start:p.i], &s); err != nil {
		p.i = start
		return "", p.errorf("bad string: %v", err)
	}
	return s, nil
}
