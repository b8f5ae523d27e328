package rules

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// Annotations that suppress findings on the object that carries them, or on
// every object in a namespace when set on the Namespace.
const (
	IgnoreAnnotation       = "imdsguard.io/ignore"
	IgnoreReasonAnnotation = "imdsguard.io/ignore-reason"
)

// ConfigSuppression is one suppression from a config file. Namespace, Kind
// and Name may be empty (any) or shell patterns.
type ConfigSuppression struct {
	Rule      string
	Namespace string
	Kind      string
	Name      string
	Reason    string
	Source    model.Source
}

// Suppress marks findings suppressed by annotations or config entries. It
// returns warnings for suppressions that were not honoured (an annotation
// without a reason, an unknown rule ID), because nothing may be ignored
// silently.
func (r *Registry) Suppress(findings []Finding, inv *model.Inventory, cfg []ConfigSuppression) []string {
	return append(r.Apply(findings, inv, cfg), r.ConfigWarnings(cfg)...)
}

// Apply is the part of Suppress that a scan evaluated group by group runs
// on each group: it marks the suppressed findings and returns the warnings
// about the annotations of inv's objects, sorted.
func (r *Registry) Apply(findings []Finding, inv *model.Inventory, cfg []ConfigSuppression) []string {
	ann := annotationIndex(inv)
	var warnings []string
	for _, o := range ann {
		warnings = append(warnings, r.checkAnnotation(o)...)
	}
	sort.Strings(warnings) // ann is a map; keep reports reproducible
	for i := range findings {
		f := &findings[i]
		if s := fromAnnotations(f, ann); s != nil {
			f.Suppressed = s
			continue
		}
		for _, c := range cfg {
			if c.matches(f) {
				f.Suppressed = &Suppression{By: "config", Reason: c.Reason, Source: c.Source}
				break
			}
		}
	}
	return warnings
}

// ConfigWarnings are the warnings about config entries that name unknown
// rules, in config order.
func (r *Registry) ConfigWarnings(cfg []ConfigSuppression) []string {
	var warnings []string
	for _, c := range cfg {
		if r.Get(c.Rule) == nil {
			warnings = append(warnings, fmt.Sprintf("%s: suppression names unknown rule %q", c.Source, c.Rule))
		}
	}
	return warnings
}

type annotated struct {
	ref    model.ObjectRef
	ann    map[string]string
	source model.Source
}

func annotationIndex(inv *model.Inventory) map[string]annotated {
	idx := map[string]annotated{}
	add := func(ref model.ObjectRef, ann map[string]string, src model.Source) {
		if ann[IgnoreAnnotation] != "" {
			idx[refKey(ref)] = annotated{ref, ann, src}
		}
	}
	for _, w := range inv.Workloads {
		add(w.Ref, w.Annotations, w.Source)
	}
	for _, np := range inv.NetworkPolicies {
		add(np.Ref, np.Annotations, np.Source)
	}
	for _, ns := range inv.Namespaces {
		add(model.ObjectRef{Kind: "Namespace", Name: ns.Name}, ns.Annotations, ns.Source)
	}
	return idx
}

func refKey(r model.ObjectRef) string { return r.Kind + "/" + r.Namespace + "/" + r.Name }

func (r *Registry) checkAnnotation(o annotated) []string {
	var out []string
	if strings.TrimSpace(o.ann[IgnoreReasonAnnotation]) == "" {
		out = append(out, fmt.Sprintf("%s: %s: annotation %s is not honoured without %s",
			o.source, o.ref, IgnoreAnnotation, IgnoreReasonAnnotation))
	}
	for _, id := range ignoredIDs(o.ann) {
		if id != "*" && r.Get(id) == nil {
			out = append(out, fmt.Sprintf("%s: %s: annotation %s names unknown rule %q", o.source, o.ref, IgnoreAnnotation, id))
		}
	}
	return out
}

func ignoredIDs(ann map[string]string) []string {
	var out []string
	for _, id := range strings.Split(ann[IgnoreAnnotation], ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

func fromAnnotations(f *Finding, idx map[string]annotated) *Suppression {
	candidates := []string{refKey(f.Object)}
	if f.Namespace != "" {
		candidates = append(candidates, refKey(model.ObjectRef{Kind: "Namespace", Name: f.Namespace}))
	}
	for _, k := range candidates {
		o, ok := idx[k]
		if !ok {
			continue
		}
		reason := strings.TrimSpace(o.ann[IgnoreReasonAnnotation])
		if reason == "" {
			continue
		}
		for _, id := range ignoredIDs(o.ann) {
			if id == f.RuleID || id == "*" {
				return &Suppression{By: "annotation", Reason: reason, Source: o.source}
			}
		}
	}
	return nil
}

func (c ConfigSuppression) matches(f *Finding) bool {
	return c.Rule == f.RuleID &&
		glob(c.Namespace, f.Namespace) &&
		glob(c.Kind, f.Object.Kind) &&
		glob(c.Name, f.Object.Name)
}

func glob(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}
