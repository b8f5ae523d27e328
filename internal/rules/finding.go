package rules

import (
	"sort"
	"sync"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// Location is a place that a finding involves besides its main one.
type Location struct {
	Object model.ObjectRef `json:"object"`
	Source model.Source    `json:"source"`
	Note   string          `json:"note,omitempty"`
}

// Suppression records why a finding is not counted.
type Suppression struct {
	// By is "annotation" or "config".
	By     string       `json:"by"`
	Reason string       `json:"reason"`
	Source model.Source `json:"source"`
}

// Finding is one problem found by one rule.
type Finding struct {
	RuleID   string   `json:"ruleId"`
	Severity Severity `json:"severity"`
	// Namespace is the namespace the finding concerns (for a Namespace
	// object, its own name).
	Namespace string          `json:"namespace,omitempty"`
	Message   string          `json:"message"`
	Object    model.ObjectRef `json:"object"`
	Source    model.Source    `json:"source"`
	// Targets lists the metadata destinations concerned, if any.
	Targets     []string     `json:"targets,omitempty"`
	Related     []Location   `json:"related,omitempty"`
	Remediation string       `json:"remediation"`
	Suppressed  *Suppression `json:"suppressed,omitempty"`
}

// Context is what a rule's check reads.
type Context struct {
	Inventory *model.Inventory
	Analysis  *reach.Analysis
	// KeepOpen are the node-local services that must stay reachable; they
	// are evaluated on demand with Analysis.Extra.
	KeepOpen []reach.Target
	// Scope limits the rules run: all of them (the zero value), only the
	// cluster-scoped ones, or only the others.
	Scope Scope
}

// Scope selects rules by what they read.
type Scope int

// The scopes of Context.Scope.
const (
	AllRules Scope = iota
	ClusterRules
	NamespacedRules
)

func (s Scope) includes(r *Rule) bool {
	switch s {
	case ClusterRules:
		return r.ClusterScoped
	case NamespacedRules:
		return !r.ClusterScoped
	}
	return true
}

// Run runs every rule of the registry and returns the findings in a stable
// order: by namespace, object, then rule.
func (r *Registry) Run(ctx *Context) []Finding {
	// Checks only read the context, so they run side by side; findings are
	// gathered in rule order.
	per := make([][]Finding, len(r.rules))
	var wg sync.WaitGroup
	for i, rule := range r.rules {
		if ctx.Scope.includes(rule) {
			wg.Go(func() { per[i] = rule.Check(ctx) })
		}
	}
	wg.Wait()
	n := 0
	for _, fs := range per {
		n += len(fs)
	}
	out := make([]Finding, 0, n)
	for i, rule := range r.rules {
		for _, f := range per[i] {
			f.RuleID = rule.ID
			if f.Namespace == "" {
				f.Namespace = f.Object.Namespace
				if f.Object.Kind == "Namespace" {
					f.Namespace = f.Object.Name
				}
			}
			if f.Remediation == "" {
				f.Remediation = rule.Remediation
			}
			out = append(out, f)
		}
		per[i] = nil // copied: let the collector have it while the rest is copied
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Object.Kind != b.Object.Kind {
			return a.Object.Kind < b.Object.Kind
		}
		if a.Object.Name != b.Object.Name {
			return a.Object.Name < b.Object.Name
		}
		return a.RuleID < b.RuleID
	})
	return out
}
