package cloudformation

import (
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// kind is what an evaluated template value is.
type kind int

const (
	absent     kind = iota // not written, null, or removed by AWS::NoValue
	scalar                 // a string, number or boolean, as text
	list                   // a sequence
	mapping                // a literal mapping whose values are evaluated when read
	resource               // a Ref or Fn::GetAtt of a resource: known only at deploy time
	unresolved             // depends on something unknown before deploy time
)

// val is a template value after intrinsic functions are applied.
type val struct {
	kind kind
	// s is the text of a scalar, or the logical ID of a resource.
	s string
	// attr is the Fn::GetAtt attribute of a resource; "" for a Ref.
	attr string
	list []val
	m    *yaml.Node
	// why says why a value is unresolved.
	why string
}

func unresolvedf(format string, args ...any) val {
	return val{kind: unresolved, why: fmt.Sprintf(format, args...)}
}

func text(s string) val { return val{kind: scalar, s: s} }

func boolean(b bool) val {
	if b {
		return text("true")
	}
	return text("false")
}

// describe names what a value is, for "expected X, got Y" messages.
func (v val) describe() string {
	switch v.kind {
	case absent:
		return "nothing"
	case scalar:
		return fmt.Sprintf("%q", v.s)
	case list:
		return "a list"
	case mapping:
		return "a mapping"
	case resource:
		return "resource " + v.refName()
	}
	return "an unresolved value"
}

// refName renders a resource value as the Ref or Fn::GetAtt it came from.
func (v val) refName() string {
	if v.attr == "" {
		return v.s
	}
	return v.s + "." + v.attr
}

// truth reads a condition value: known is false when it is unresolved.
func (v val) truth() (value, known bool, ok bool) {
	switch v.kind {
	case unresolved:
		return false, false, true
	case scalar:
		switch strings.ToLower(v.s) {
		case "true":
			return true, true, true
		case "false":
			return false, true, true
		}
	}
	return false, false, false
}
