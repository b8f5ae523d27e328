package rules

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite docs/rules.md")

func TestRuleReferenceIsCurrent(t *testing.T) {
	var b bytes.Buffer
	if err := Default().Markdown(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "rules.md")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b.String(), string(want)); diff != "" {
		t.Errorf("docs/rules.md is stale; run `go test ./internal/rules -run TestRuleReferenceIsCurrent -update` (-got +want):\n%s", diff)
	}
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
