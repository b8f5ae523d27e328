package calicosel

import (
	"strings"
	"testing"
)

// labels is a lookup over known labels; keys named in unknown may be
// there or not.
func labels(known map[string]string, unknown ...string) Lookup {
	return func(k string) (string, Label) {
		if v, ok := known[k]; ok {
			return v, Present
		}
		for _, u := range unknown {
			if u == k {
				return "", Unknown
			}
		}
		return "", Absent
	}
}

// TestEval holds the operators to the meanings in the Calico selector
// reference, including its precedence example.
func TestEval(t *testing.T) {
	pod := map[string]string{"role": "frontend", "my-label": "production", "app.kubernetes.io/name": "web", "empty": ""}
	for _, tc := range []struct {
		expr string
		want Truth
	}{
		{"", True},
		{"   ", True},
		{"all()", True},
		{"!all()", False},
		{"all( )", True},
		{"global()", False},
		{"!global()", True},
		{"role == 'frontend'", True},
		{`role == "frontend"`, True},
		{"role == 'backend'", False},
		{"role != 'backend'", True},
		{"role != 'frontend'", False},
		{"missing != 'x'", True}, // absent label: != matches
		{"missing == 'x'", False},
		{"has(role)", True},
		{"has( role )", True},
		{"!has(role)", False},
		{"!has(missing)", True},
		{"has(empty)", True},
		{"empty == ''", True},
		{"role in {'frontend', 'business'}", True},
		{"role in {}", False},
		{"role not in {'frontend'}", False},
		{"missing not in {'frontend'}", True},
		{"missing in {'frontend'}", False},
		{"my-label contains 'duct'", True},
		{"my-label starts with 'prod'", True},
		{"my-label ends with 'tion'", True},
		{"my-label ends with 'prod'", False},
		{"missing contains ''", False}, // the label must be there
		{"app.kubernetes.io/name == 'web'", True},
		{"role == 'x' || has(role) && !has(missing)", True},
		{"(role == 'x' || has(role)) && has(missing)", False},
		// The reference's own example: ! binds tighter than &&, && than ||.
		{"! has(my-label) || my-label starts with 'prod' && role in {'frontend','business'}", True},
		{"!!has(role)", True},
		{"role=='frontend'&&has(role)", True},
		{"in == 'x'", False}, // keywords are keys where a key is expected
	} {
		s, err := Parse(tc.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.expr, err)
			continue
		}
		if got := s.Eval(labels(pod)); got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.expr, got, tc.want)
		}
	}
}

// TestEvalUnknown checks the three-valued answers when a label's presence
// is not known: Kleene logic, never a guess.
func TestEvalUnknown(t *testing.T) {
	l := labels(map[string]string{"a": "1"}, "u")
	for _, tc := range []struct {
		expr string
		want Truth
	}{
		{"has(u)", Maybe},
		{"!has(u)", Maybe},
		{"u == 'x'", Maybe},
		{"u != 'x'", Maybe},
		{"u not in {'x'}", Maybe},
		{"a == '1' && u == 'x'", Maybe},
		{"a == '2' && u == 'x'", False},
		{"a == '1' || u == 'x'", True},
		{"a == '2' || u == 'x'", Maybe},
		{"global() || has(u)", Maybe},
	} {
		if got := MustParse(tc.expr).Eval(l); got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.expr, got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"role = 'x'", `offset 5: expected an operator after "role"`},
		{"role == x", "offset 8: expected a quoted string"},
		{"role == 'x", "unterminated string"},
		{"has(role", `expected ")" after has(role`},
		{"has role", `expected "(" after has`},
		{"(a == 'x'", `expected ")"`},
		{"a == 'x' b == 'y'", `unexpected "b == 'y'"`},
		{"a in {'x' 'y'}", `expected "," or "}" in a set`},
		{"a in 'x'", `expected "{" after in`},
		{"a not 'x'", `expected "in" after not`},
		{"a starts 'x'", `expected "with" after starts`},
		{"&& a == 'x'", "expected a label key"},
		{"a == 'x' &&", "expected a label key, got the end"},
		{"role", `expected an operator after "role", got the end`},
		{"all(x)", `expected an operator after "all"`},
		{"any(a == 'x')", `expected an operator after "any"`},
		{strings.Repeat("(", 200) + "all()" + strings.Repeat(")", 200), "nested deeper than"},
		{strings.Repeat("!", 200) + "all()", "nested deeper than"},
	} {
		_, err := Parse(tc.expr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q): error %v, want it to contain %q", tc.expr, err, tc.want)
		}
	}
}

// FuzzParse checks that Parse never panics, that what it accepts it
// evaluates, and that its answers are stable: a selector evaluates the
// same when parsed again from its own text.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "all()", "a == 'b' && !has(c) || d in {'e', \"f\"}", "x not in {}", "k starts with 'p'", "((a != 'x'))", "global()"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		again := MustParse(s.String())
		for _, l := range []Lookup{labels(nil), labels(map[string]string{"a": "b", "k": "pq"}, "c", "d"), func(string) (string, Label) { return "", Unknown }} {
			if a, b := s.Eval(l), again.Eval(l); a != b {
				t.Fatalf("%q evaluates %s, reparsed %s", expr, a, b)
			}
		}
	})
}
