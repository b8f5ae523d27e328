// Package calicosel parses and evaluates Calico's label selector
// expressions (`role == 'db' && !has(canary)`), as the Calico NetworkPolicy
// reference describes them, with a three-valued answer for labels the
// input does not know.
package calicosel

import (
	"fmt"
	"strings"
)

// Truth is a three-valued answer: a selector matches, does not, or may
// match, depending on labels the input does not show.
type Truth uint8

// The answers, ordered so that Kleene's "and" is min and "or" is max.
const (
	False Truth = iota
	Maybe
	True
)

func (t Truth) String() string { return [...]string{"false", "maybe", "true"}[t] }

func not(t Truth) Truth { return True - t }

// Label says what is known of one label of a resource.
type Label uint8

// What can be known of a label.
const (
	// Absent: the resource certainly has no such label.
	Absent Label = iota
	// Present: the resource has the label, with the value returned.
	Present
	// Unknown: the input does not say whether the label is there.
	Unknown
)

// Lookup returns what is known of a label: its state and, when Present,
// its value.
type Lookup func(key string) (string, Label)

// Selector is a parsed selector expression. The zero Selector, like the
// empty expression, is all().
type Selector struct {
	raw  string
	root node
}

// String returns the expression as written.
func (s *Selector) String() string {
	if s == nil || s.raw == "" {
		return "all()"
	}
	return s.raw
}

// IsAll reports whether the selector is all() or empty.
func (s *Selector) IsAll() bool {
	if s == nil || s.root == nil {
		return true
	}
	_, ok := s.root.(allNode)
	return ok
}

// Eval decides whether a resource with the labels lookup describes is
// selected. A nil Selector selects everything.
func (s *Selector) Eval(lookup Lookup) Truth {
	if s == nil || s.root == nil {
		return True
	}
	return s.root.eval(lookup)
}

// node is one operator of a parsed expression.
type node interface {
	eval(Lookup) Truth
}

type (
	allNode    struct{}
	globalNode struct{} // only non-namespaced resources: never a pod or a namespace
	notNode    struct{ x node }
	andNode    struct{ l, r node }
	orNode     struct{ l, r node }
	hasNode    struct{ key string }
	// cmpNode is a comparison of a label's value; negated comparisons
	// (!=, not in) also match when the label is absent.
	cmpNode struct {
		key     string
		op      string
		values  []string
		negated bool
	}
)

func (allNode) eval(Lookup) Truth    { return True }
func (globalNode) eval(Lookup) Truth { return False }
func (n notNode) eval(l Lookup) Truth {
	return not(n.x.eval(l))
}

func (n andNode) eval(l Lookup) Truth {
	a := n.l.eval(l)
	if a == False {
		return False
	}
	return min(a, n.r.eval(l))
}

func (n orNode) eval(l Lookup) Truth {
	a := n.l.eval(l)
	if a == True {
		return True
	}
	return max(a, n.r.eval(l))
}

func (n hasNode) eval(l Lookup) Truth {
	switch _, st := l(n.key); st {
	case Present:
		return True
	case Unknown:
		return Maybe
	}
	return False
}

func (n cmpNode) eval(l Lookup) Truth {
	v, st := l(n.key)
	var t Truth
	switch st {
	case Unknown:
		return Maybe
	case Present:
		if n.holds(v) {
			t = True
		}
	}
	if n.negated {
		return not(t)
	}
	return t
}

// holds applies the positive form of the comparison to a present value.
func (n cmpNode) holds(v string) bool {
	switch n.op {
	case "contains":
		return strings.Contains(v, n.values[0])
	case "starts with":
		return strings.HasPrefix(v, n.values[0])
	case "ends with":
		return strings.HasSuffix(v, n.values[0])
	}
	for _, w := range n.values {
		if v == w {
			return true
		}
	}
	return false
}

// SyntaxError is a selector that does not parse: what is wrong, and at
// which byte offset of the expression.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid selector at offset %d: %s", e.Offset, e.Msg)
}
