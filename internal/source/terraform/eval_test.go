package terraform

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestEval evaluates expressions in a module with a few declarations: each
// supported function, conditionals on unknowns, and what stays unknown.
func TestEval(t *testing.T) {
	src := `
variable "known" { default = "a" }
variable "missing" {}
locals {
  m    = { k = "v" }
  self = local.self
}
resource "aws_launch_template" "lt" { name = "lt-name" }
`
	tests := []struct {
		expr string
		want string // the value, or "?" followed by part of the reason it is unknown
	}{
		{`lookup(local.m, "k", "d")`, "v"},
		{`lookup(local.m, "x", "d")`, "d"},
		{`coalesce("", var.known)`, "a"},
		{`coalesce(null, "b")`, "b"},
		{`tostring(2)`, "2"},
		{`tonumber("3")`, "3"},
		{`tobool("true")`, "true"},
		{`lower("ABC")`, "abc"},
		{`upper("abc")`, "ABC"},
		{`merge(local.m, { k = "w" }).k`, "w"},
		{`format("%s-%d", var.known, 1)`, "a-1"},
		{`join(",", ["a", "b"])`, "a,b"},
		{`contains(["a"], var.known)`, "true"},
		{`try(local.m.nope, "fallback")`, "fallback"},
		{`can(local.m.k)`, "true"},
		{`aws_launch_template.lt.name`, "lt-name"},
		{`var.known == "a" ? "yes" : var.missing`, "yes"},
		{`var.known == "b" ? "yes" : var.missing`, "?var.missing has no default"},
		{`var.missing == "a" ? "x" : "y"`, "?var.missing has no default"},
		{`local.self`, "?local.self refers to itself"},
		{`aws_launch_template.lt.id`, "?aws_launch_template.lt.id is known only after apply"},
		{`file("x")`, "?there is no function named \"file\""},
		{`path.module`, "?path.* is not resolved"},
		{`each.value`, "?each.* is not resolved"},
		{`module.none.x`, "?module.none is not declared"},
	}
	l := &loader{res: &Result{}}
	m := newModule("", "")
	f, diags := hclsyntax.ParseConfig([]byte(src), "main.tf", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		l.declare(m, b)
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			expr, diags := hclsyntax.ParseExpression([]byte(tt.expr), "expr.tf", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			e := m.eval(expr)
			if reason, ok := strings.CutPrefix(tt.want, "?"); ok {
				if e.known() {
					t.Fatalf("got %#v, want unknown", e.val)
				}
				if got := strings.Join(e.why, "; "); !strings.Contains(got, reason) {
					t.Errorf("why = %q, want it to contain %q", got, reason)
				}
				return
			}
			if !e.known() {
				t.Fatalf("unknown: %v", e.why)
			}
			if got := raw(e.val); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
