package scan

import (
	"sort"

	"github.com/imdsguard/imdsguard/internal/model"

	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/report"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// Document assembles the report document for a scan.
func (r *Result) Document() *report.Document {
	d := &report.Document{
		SchemaVersion: report.SchemaVersion,
		Tool:          report.Tool{Name: "imdsguard", Version: r.version()},
		Complete:      len(r.InputErrors) == 0,
		Inputs:        nonNil(r.Files),
		Namespaces:    r.Inventory.NamespaceNames(),
		Findings:      r.Findings,
		Warnings:      nonNil(r.Warnings),
		UnknownKinds:  r.Inventory.UnknownKinds,
		Summary: report.Summary{
			Namespaces: len(r.Inventory.Namespaces),
			Workloads:  len(r.Analysis.Workloads),
			Verdicts:   map[string]int{"Reachable": 0, "Blocked": 0, "Unknown": 0},
			DecidedBy:  map[string]int{},
			Findings:   map[string]int{"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0},
		},
	}
	for _, c := range r.Clouds {
		d.Clouds = append(d.Clouds, string(c))
	}
	for _, t := range r.Analysis.Targets {
		d.Targets = append(d.Targets, TargetDoc(t))
	}
	d.Workloads = make([]report.Workload, 0, len(r.Analysis.Workloads))
	sas := model.ServiceAccountIndex(r.Inventory.ServiceAccounts)
	verdicts := map[*reach.Result][]report.Verdict{}
	for _, wr := range r.Analysis.Workloads {
		w := r.workloadDoc(wr, &d.Summary, verdicts)
		w.Identity = model.OwnIdentity(wr.Workload, sas)
		d.Workloads = append(d.Workloads, w)
	}
	sort.SliceStable(d.Workloads, func(i, j int) bool {
		a, b := d.Workloads[i].Object, d.Workloads[j].Object
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	for _, f := range r.Findings {
		if f.Suppressed != nil {
			d.Summary.Suppressed++
		} else {
			d.Summary.Findings[f.Severity.String()]++
		}
	}
	for _, rule := range r.Registry.Rules() {
		d.Rules = append(d.Rules, RuleDoc(rule))
	}
	d.Errors = make([]report.InputError, 0, len(r.InputErrors))
	for _, e := range r.InputErrors {
		ie := report.InputError{Source: e.Source, Message: e.Msg}
		if e.Object.Kind != "" || e.Object.Name != "" {
			o := e.Object
			ie.Object = &o
		}
		d.Errors = append(d.Errors, ie)
	}
	d.Summary.InputErrors = len(d.Errors)
	if d.Findings == nil {
		d.Findings = []rules.Finding{}
	}
	return d
}

// workloadDoc converts one workload's results. Workloads whose pods meet
// the same policies share one results slice (reach's cache), and so share
// one verdicts slice here: documents are only read.
func (r *Result) workloadDoc(wr *reach.WorkloadResult, s *report.Summary, verdicts map[*reach.Result][]report.Verdict) report.Workload {
	w := report.Workload{Object: wr.Workload.Ref, Source: wr.Workload.Source, HostNetwork: wr.Workload.HostNetwork(),
		Inferred: wr.Workload.Inferred, Policies: make([]string, 0, len(wr.Policies))}
	for _, p := range wr.Policies {
		w.Policies = append(w.Policies, p.Ref.Name)
	}
	if len(wr.Results) > 0 {
		var ok bool
		if w.Verdicts, ok = verdicts[&wr.Results[0]]; !ok {
			w.Verdicts = make([]report.Verdict, len(wr.Results))
			for ti, res := range wr.Results {
				w.Verdicts[ti] = report.Verdict{Target: r.Analysis.Targets[ti].String(), Verdict: res.Verdict, Trace: res.Trace}
			}
			verdicts[&wr.Results[0]] = w.Verdicts
		}
	}
	for ti, res := range wr.Results {
		t := r.Analysis.Targets[ti]
		if t.KeepOpen() {
			continue
		}
		s.Verdicts[res.Verdict.String()]++
		s.DecidedBy[string(DecidingLayer(res))]++
	}
	return w
}

// DecidingLayer is the layer that settled the verdict: for Unknown, the
// first layer that could not decide; otherwise the last layer that took a
// position (not merely "no opinion"), or the only one there is.
func DecidingLayer(res reach.Result) reach.Layer {
	if res.Verdict == reach.Unknown {
		for _, st := range res.Trace {
			if st.Decision == reach.Undecided {
				return st.Layer
			}
		}
	}
	for i := len(res.Trace) - 1; i >= 0; i-- {
		if res.Trace[i].Decision != reach.NoOpinion {
			return res.Trace[i].Layer
		}
	}
	if len(res.Trace) > 0 {
		return res.Trace[0].Layer
	}
	return ""
}

// TargetDoc converts a target to its report form.
func TargetDoc(t reach.Target) report.Target {
	td := report.Target{ID: t.String(), Address: t.Addr.String(), Port: t.Port, Protocol: string(t.Protocol), KeepOpen: t.KeepOpen()}
	for _, e := range t.Endpoints {
		td.Endpoints = append(td.Endpoints, report.Endpoint{ID: e.ID, Cloud: string(e.Cloud), Service: e.Service})
	}
	return td
}

// RuleDoc converts a registered rule to its report form.
func RuleDoc(rule *rules.Rule) report.Rule {
	return report.Rule{ID: rule.ID, Name: rule.Name, Title: rule.Title, Severity: rule.Severity,
		SeverityNote: rule.SeverityNote, Description: rule.Description, Remediation: rule.Remediation,
		References: rule.References}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (r *Result) version() string {
	if r.Version == "" {
		return "dev"
	}
	return r.Version
}
