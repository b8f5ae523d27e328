package rules

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/golden"
)

func TestRuleReferenceIsCurrent(t *testing.T) {
	var b bytes.Buffer
	if err := Default().Markdown(&b); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("..", "..", "docs", "rules.md"), b.String())
}

func TestRegistryRefusesBadRules(t *testing.T) {
	ok := func() *Rule {
		return &Rule{ID: "IMDS-900", Title: "t", Description: "d", Remediation: "r", Check: func(*Context) []Finding { return nil }}
	}
	tests := []struct {
		name   string
		mutate func(*Rule)
		want   string
	}{
		{"bad id", func(r *Rule) { r.ID = "X1" }, "must look like"},
		{"no title", func(r *Rule) { r.Title = "" }, "required"},
		{"no check", func(r *Rule) { r.Check = nil }, "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok()
			tt.mutate(r)
			err := NewRegistry().Register(r)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Register() = %v, want error containing %q", err, tt.want)
			}
		})
	}
	reg := NewRegistry()
	if err := reg.Register(ok()); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(ok()); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("duplicate Register() = %v, want already registered", err)
	}
}

func TestBuiltinRulesHaveMitreReference(t *testing.T) {
	for _, r := range Default().Rules() {
		found := false
		for _, ref := range r.References {
			if strings.Contains(ref.Name, "T1552.005") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s has no MITRE ATT&CK T1552.005 reference", r.ID)
		}
	}
}
