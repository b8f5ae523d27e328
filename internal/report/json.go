package report

import (
	"encoding/json"
	"io"

	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// renderJSON writes the document as indented JSON. encoding/json sorts map
// keys, and normalized turns every nil list into [], so the same document
// always renders to the same bytes and always matches docs/schema/scan-v1.json.
func renderJSON(w io.Writer, d *Document) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Messages quote "&", "<" and ">" often enough that escaping them would
	// hurt readability; the output is never embedded in HTML.
	enc.SetEscapeHTML(false)
	return enc.Encode(normalized(d))
}

// normalized returns a copy of d in which no list or map that the schema
// requires is nil. d itself is not changed.
func normalized(d *Document) *Document {
	n := *d
	n.Clouds = orEmpty(d.Clouds)
	n.Inputs = orEmpty(d.Inputs)
	n.Namespaces = orEmpty(d.Namespaces)
	n.Warnings = orEmpty(d.Warnings)
	n.Findings = orEmpty(d.Findings)
	n.Errors = orEmpty(d.Errors)
	n.UnknownKinds = mapOrEmpty(d.UnknownKinds)
	n.Summary.Verdicts = mapOrEmpty(d.Summary.Verdicts)
	n.Summary.DecidedBy = mapOrEmpty(d.Summary.DecidedBy)
	n.Summary.Findings = mapOrEmpty(d.Summary.Findings)

	n.Targets = make([]Target, len(d.Targets))
	for i, t := range d.Targets {
		t.Endpoints = orEmpty(t.Endpoints)
		n.Targets[i] = t
	}
	n.Workloads = make([]Workload, len(d.Workloads))
	for i, wl := range d.Workloads {
		wl.Policies = orEmpty(wl.Policies)
		vs := make([]Verdict, len(wl.Verdicts))
		for j, v := range wl.Verdicts {
			v.Trace = orEmpty[reach.Step](v.Trace)
			vs[j] = v
		}
		wl.Verdicts = vs
		n.Workloads[i] = wl
	}
	n.Rules = make([]Rule, len(d.Rules))
	for i, r := range d.Rules {
		r.References = orEmpty[rules.Reference](r.References)
		n.Rules[i] = r
	}
	return &n
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func mapOrEmpty[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}
