package probe

import (
	"slices"
	"sort"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/report"
	"github.com/imdsguard/imdsguard/internal/rules"
	"github.com/imdsguard/imdsguard/internal/scan"
)

// Probe is one place probed from and what the agent found there.
type Probe struct {
	// Object is what the probe stood for: the workload whose labels,
	// ServiceAccount and hostNetwork setting it wore, a namespace, or the
	// local network namespace.
	Object      model.ObjectRef
	Source      model.Source
	HostNetwork bool
	// Report is the agent's report; nil when none came back.
	Report *Report
	// Error says why no report came back.
	Error string
}

// LocalObject names the network namespace `imdsguard probe --local` ran in.
var LocalObject = model.ObjectRef{Kind: "LocalNetworkNamespace", Name: "local"}

// LocalSource is where a local probe's findings point.
var LocalSource = model.Source{Cluster: "local"}

// Static is the static verdicts of the workloads probed, by workload; a
// probe with no static entry is not compared.
type Static map[model.ObjectRef][]report.Verdict

// StaticFrom indexes a scan document's verdicts.
func StaticFrom(d *report.Document) Static {
	s := Static{}
	for _, w := range d.Workloads {
		s[w.Object] = w.Verdicts
	}
	return s
}

// DocumentVersion names the probe's report document: a scan/v1 document
// whose traces may also hold the layers Probe and StaticVerdict. Its JSON
// Schema, docs/schema/probe-v1.json, is derived from the scan's.
const DocumentVersion = "imdsguard.io/probe/v1"

// Document renders probes as a report document, the one `scan` writes, so
// that every output format serves both. Each probe is a workload whose
// verdicts are the probe's; static, when given, is compared with them.
func Document(probes []Probe, static Static, version string) *report.Document {
	reg := rules.Default()
	d := &report.Document{
		SchemaVersion: DocumentVersion,
		Tool:          report.Tool{Name: "imdsguard", Version: version},
		Complete:      true,
		Clouds:        []string{},
		Inputs:        []string{},
		Namespaces:    []string{},
		Findings:      []rules.Finding{},
		Warnings:      []string{},
		Errors:        []report.InputError{},
		UnknownKinds:  map[string]int{},
		Summary: report.Summary{
			Verdicts:  map[string]int{"Reachable": 0, "Blocked": 0, "Unknown": 0},
			DecidedBy: map[string]int{},
			Findings:  map[string]int{"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0},
		},
	}
	targets := map[string]reach.Target{}
	namespaces := map[string]bool{}
	for _, p := range probes {
		if p.Object.Namespace != "" {
			namespaces[p.Object.Namespace] = true
		}
		w := report.Workload{Object: p.Object, Source: p.Source, HostNetwork: p.HostNetwork, Policies: []string{}}
		if p.Report == nil {
			d.Complete = false
			o := p.Object
			d.Errors = append(d.Errors, report.InputError{Source: p.Source, Object: &o, Message: "probe: " + p.Error})
			d.Workloads = append(d.Workloads, w)
			continue
		}
		for _, tv := range p.Report.Verdicts() {
			id := tv.Target.String()
			targets[id] = tv.Target
			v := report.Verdict{Target: id, Verdict: tv.Verdict, Trace: tv.Trace}
			if sv, ok := staticVerdict(static, p.Object, id); ok {
				v.Trace = append(v.Trace, reach.Step{Layer: LayerStatic, Decision: reach.NoOpinion,
					Reason: "the static verdict is " + sv.Verdict.String() + ": " + reasons(sv.Trace)})
				if f, ok := disagreement(p, tv, sv); ok {
					d.Findings = append(d.Findings, f)
				}
			}
			if tv.Credentials {
				d.Findings = append(d.Findings, credentialsFinding(p, tv))
			}
			w.Verdicts = append(w.Verdicts, v)
			d.Summary.Verdicts[tv.Verdict.String()]++
			d.Summary.DecidedBy[string(LayerProbe)]++
		}
		d.Workloads = append(d.Workloads, w)
	}
	d.Targets = targetDocs(targets)
	for ns := range namespaces {
		d.Namespaces = append(d.Namespaces, ns)
	}
	sort.Strings(d.Namespaces)
	d.Summary.Namespaces = len(d.Namespaces)
	d.Summary.Workloads = len(d.Workloads)
	d.Summary.InputErrors = len(d.Errors)
	countFindings(d)
	for _, r := range reg.Rules() {
		d.Rules = append(d.Rules, scan.RuleDoc(r))
	}
	return d
}

// LayerStatic marks the step that carries the static verdict next to a
// probe's.
const LayerStatic reach.Layer = "StaticVerdict"

func staticVerdict(s Static, o model.ObjectRef, target string) (report.Verdict, bool) {
	for _, v := range s[o] {
		if v.Target == target {
			return v, true
		}
	}
	return report.Verdict{}, false
}

func reasons(trace []reach.Step) string {
	rs := make([]string, 0, len(trace))
	for _, s := range trace {
		rs = append(rs, string(s.Layer)+": "+s.Reason)
	}
	return strings.Join(rs, "; ")
}

// checksOf names the checks behind a target's trace.
func checksOf(tv TargetVerdict, class ...Class) string {
	var names []string
	for _, r := range tv.Results {
		if slices.Contains(class, r.Class) {
			names = append(names, r.Check)
		}
	}
	return strings.Join(names, ", ")
}

func credentialsFinding(p Probe, tv TargetVerdict) rules.Finding {
	return finding(p, tv, rules.ProbeCredentialsID, rules.High,
		"a probe as "+p.Object.String()+" was served credentials by "+tv.Target.String()+" ("+checksOf(tv, Credentials)+")")
}

// disagreement compares a probe's verdict with the static one. Unknown on
// either side is no disagreement: one of them made no claim.
func disagreement(p Probe, tv TargetVerdict, sv report.Verdict) (rules.Finding, bool) {
	if tv.Verdict == reach.Unknown || sv.Verdict == reach.Unknown || tv.Verdict == sv.Verdict {
		return rules.Finding{}, false
	}
	if sv.Verdict == reach.Blocked {
		sev, what := rules.High, "reached it ("+checksOf(tv, Credentials, Metadata)+")"
		if tv.Credentials {
			sev, what = rules.Critical, "was served credentials ("+checksOf(tv, Credentials)+")"
		}
		return finding(p, tv, rules.DatapathDisagreesID, sev,
			"the policies block "+p.Object.String()+" from "+tv.Target.String()+", but a probe wearing its labels "+what+
				": the datapath does not enforce the policy"), true
	}
	return finding(p, tv, rules.DatapathDisagreesID, rules.Low,
		"the policies let "+p.Object.String()+" reach "+tv.Target.String()+", but a probe wearing its labels was kept out ("+
			checksOf(tv, Refused, ProxyBlocked, Timeout, ConnRefused)+"): something the scan does not see blocks it"), true
}

func finding(p Probe, tv TargetVerdict, id string, sev rules.Severity, msg string) rules.Finding {
	ns := p.Object.Namespace
	if p.Object.Kind == "Namespace" {
		ns = p.Object.Name
	}
	return rules.Finding{RuleID: id, Severity: sev, Namespace: ns, Message: msg, Object: p.Object, Source: p.Source,
		Targets: []string{tv.Target.String()}, Remediation: rules.Default().Get(id).Remediation}
}

func targetDocs(ts map[string]reach.Target) []report.Target {
	list := make([]reach.Target, 0, len(ts))
	for _, t := range ts {
		list = append(list, t)
	}
	reach.SortTargets(list)
	out := make([]report.Target, 0, len(list))
	for _, t := range list {
		out = append(out, scan.TargetDoc(t))
	}
	return out
}

// Suppress marks the findings that the annotations of inv's objects, or
// cfg, suppress, as a scan does, and counts them again.
func Suppress(d *report.Document, inv *model.Inventory, cfg []rules.ConfigSuppression) {
	rules.Default().Suppress(d.Findings, inv, cfg) // the scan of inv has reported the warnings
	countFindings(d)
}

func countFindings(d *report.Document) {
	d.Summary.Suppressed = 0
	for k := range d.Summary.Findings {
		d.Summary.Findings[k] = 0
	}
	for _, f := range d.Findings {
		if f.Suppressed != nil {
			d.Summary.Suppressed++
		} else {
			d.Summary.Findings[f.Severity.String()]++
		}
	}
}
