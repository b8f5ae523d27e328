package report

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// renderTable writes the human report: a legend of the metadata targets,
// then one section per namespace (workloads with a verdict per target, then
// findings), then input errors, warnings and the summary.
func renderTable(w io.Writer, d *Document, o Options) error {
	t := &tableWriter{w: w, p: painter(o.Color), verbose: o.Verbose, targets: metadataTargets(d)}
	t.legend()
	byNS := groupByNamespace(d)
	for _, ns := range namespaceOrder(byNS) {
		t.namespace(ns, byNS[ns])
	}
	t.problems(d)
	t.summary(d)
	return t.err
}

// tableWriter carries the state of one table rendering; it keeps the first
// write error so the section writers need not check each write.
type tableWriter struct {
	w       io.Writer
	p       painter
	verbose bool
	targets []Target
	err     error
}

func (t *tableWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

// newTab returns a tabwriter for one aligned block. Every cell of a block
// goes through the painter, which in colour mode adds escape codes of the
// same length to every cell, so the columns stay aligned.
func (t *tableWriter) newTab() *tabwriter.Writer {
	return tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
}

func (t *tableWriter) flush(tw *tabwriter.Writer) {
	if err := tw.Flush(); err != nil && t.err == nil {
		t.err = err
	}
}

func row(tw io.Writer, cells ...string) {
	fmt.Fprintln(tw, "  "+strings.Join(cells, "\t"))
}

func metadataTargets(d *Document) []Target {
	var out []Target
	for _, tg := range d.Targets {
		if !tg.KeepOpen {
			out = append(out, tg)
		}
	}
	return out
}

func targetLabel(i int) string { return "T" + strconv.Itoa(i+1) }

func (t *tableWriter) legend() {
	if len(t.targets) == 0 {
		t.printf("Metadata targets: none\n")
		return
	}
	t.printf("Metadata targets:\n")
	for i, tg := range t.targets {
		ids := make([]string, len(tg.Endpoints))
		for j, e := range tg.Endpoints {
			ids[j] = e.ID
		}
		t.printf("  %s = %s (%s)\n", targetLabel(i), tg.ID, strings.Join(ids, ", "))
	}
}

// nsGroup is what one namespace section shows.
type nsGroup struct {
	workloads []*Workload
	findings  []*rules.Finding
}

func groupByNamespace(d *Document) map[string]*nsGroup {
	m := map[string]*nsGroup{}
	get := func(ns string) *nsGroup {
		if m[ns] == nil {
			m[ns] = &nsGroup{}
		}
		return m[ns]
	}
	for _, ns := range d.Namespaces {
		get(ns)
	}
	// The groups point into the document: a large cluster has tens of
	// thousands of workloads and findings, not worth copying.
	for i := range d.Workloads {
		g := get(d.Workloads[i].Object.Namespace)
		g.workloads = append(g.workloads, &d.Workloads[i])
	}
	for i := range d.Findings {
		g := get(d.Findings[i].Namespace)
		g.findings = append(g.findings, &d.Findings[i])
	}
	for _, g := range m {
		sort.SliceStable(g.workloads, func(i, j int) bool {
			a, b := g.workloads[i].Object, g.workloads[j].Object
			if a.Kind != b.Kind {
				return a.Kind < b.Kind
			}
			return a.Name < b.Name
		})
	}
	return m
}

// namespaceOrder sorts the namespaces, with cluster-scoped findings ("")
// last.
func namespaceOrder(m map[string]*nsGroup) []string {
	var out []string
	for ns := range m {
		if ns != "" {
			out = append(out, ns)
		}
	}
	sort.Strings(out)
	if m[""] != nil {
		out = append(out, "")
	}
	return out
}

func (t *tableWriter) namespace(ns string, g *nsGroup) {
	if ns == "" {
		t.printf("\nCluster-scoped\n")
	} else {
		t.printf("\nNamespace %s\n", ns)
	}
	switch {
	case len(g.workloads) == 0 && len(g.findings) == 0:
		t.printf("  no workloads or findings\n")
		return
	case len(g.workloads) == 0 && ns != "":
		t.printf("  no workloads\n")
	case len(g.workloads) > 0:
		t.workloads(g.workloads)
	}
	if len(g.findings) == 0 {
		t.printf("  no findings\n")
		return
	}
	if len(g.workloads) > 0 {
		t.printf("\n")
	}
	t.findings(g.findings)
}

func (t *tableWriter) workloads(ws []*Workload) {
	tw := t.newTab()
	head := []string{t.p.plain("WORKLOAD"), t.p.plain("HOSTNETWORK")}
	// The identity column shows only where some workload has one.
	ids := slices.ContainsFunc(ws, func(wl *Workload) bool { return wl.Identity != "" })
	if ids {
		head = append(head, t.p.plain("IDENTITY"))
	}
	for i := range t.targets {
		head = append(head, t.p.plain(targetLabel(i)))
	}
	row(tw, head...)
	for _, wl := range ws {
		name := wl.Object.Kind + "/" + wl.Object.Name
		if wl.Inferred {
			name += " (inferred)"
		}
		host := t.p.plain("-")
		if wl.HostNetwork {
			host = t.p.paint(ansiRed, "yes")
		}
		cells := []string{t.p.plain(name), host}
		if ids {
			cells = append(cells, t.p.plain(identityKind(wl.Identity)))
		}
		for _, tg := range t.targets {
			cells = append(cells, t.verdictCell(wl, tg.ID))
		}
		row(tw, cells...)
	}
	t.flush(tw)
	if t.verbose {
		t.traces(ws)
	}
}

func findVerdict(wl *Workload, target string) (Verdict, bool) {
	for _, v := range wl.Verdicts {
		if v.Target == target {
			return v, true
		}
	}
	return Verdict{}, false
}

func (t *tableWriter) verdictCell(wl *Workload, target string) string {
	v, ok := findVerdict(wl, target)
	if !ok {
		return t.p.plain("-")
	}
	return t.p.verdict(v.Verdict)
}

func (t *tableWriter) traces(ws []*Workload) {
	t.printf("  Traces:\n")
	for _, wl := range ws {
		for i, tg := range t.targets {
			v, ok := findVerdict(wl, tg.ID)
			if !ok {
				continue
			}
			t.printf("    %s/%s %s %s\n", wl.Object.Kind, wl.Object.Name, targetLabel(i), t.p.verdict(v.Verdict))
			for n, s := range v.Trace {
				t.printf("      %d. %s: %s: %s\n", n+1, s.Layer, s.Decision, s.Reason)
				for _, r := range s.Rules {
					t.printf("         %s\n", ruleRefText(r))
				}
			}
		}
	}
}

func ruleRefText(r reach.RuleRef) string {
	s := r.Policy.String()
	if r.Rule >= 0 {
		s += fmt.Sprintf(" egress rule %d", r.Rule)
	}
	s += " at " + r.Source.String()
	if r.Why != "" {
		s += ": " + r.Why
	}
	return s
}

func (t *tableWriter) findings(fs []*rules.Finding) {
	tw := t.newTab()
	row(tw, t.p.plain("SEVERITY"), t.p.plain("RULE"), t.p.plain("SOURCE"), t.p.plain("MESSAGE"))
	for _, f := range fs {
		sev := t.p.severity(f.Severity)
		msg := f.Message
		if f.Suppressed != nil {
			sev = t.p.plain(f.Severity.String())
			msg += " (suppressed: " + f.Suppressed.Reason + ")"
		}
		row(tw, sev, t.p.plain(f.RuleID), t.p.plain(f.Source.String()), t.p.plain(msg))
		if !t.verbose {
			continue
		}
		// Related locations go in the message column of rows of their
		// own, which keeps the block aligned.
		for _, l := range f.Related {
			text := "related: " + l.Object.String() + " at " + l.Source.String()
			if l.Note != "" {
				text += ": " + l.Note
			}
			row(tw, t.p.plain(""), t.p.plain(""), t.p.plain(""), t.p.plain(text))
		}
	}
	t.flush(tw)
}

// problems lists input errors and warnings, which the summary only counts.
func (t *tableWriter) problems(d *Document) {
	if len(d.Errors) > 0 {
		t.printf("\nInput errors:\n")
		for _, e := range d.Errors {
			where := e.Source.String()
			if e.Object != nil {
				where += ": " + e.Object.String()
			}
			t.printf("  %s: %s\n", where, t.p.paint(ansiRed, e.Message))
		}
	}
	if len(d.Warnings) > 0 {
		t.printf("\nWarnings:\n")
		for _, w := range d.Warnings {
			t.printf("  %s\n", t.p.paint(ansiYellow, w))
		}
	}
}

func (t *tableWriter) summary(d *Document) {
	s := d.Summary
	t.printf("\nSummary:\n")
	line := func(name, value string) { t.printf("  %-13s %s\n", name, value) }
	line("namespaces", strconv.Itoa(s.Namespaces))
	line("workloads", strconv.Itoa(s.Workloads))
	var vs []string
	for _, v := range []reach.Verdict{reach.Reachable, reach.Unknown, reach.Blocked} {
		n := s.Verdicts[v.String()]
		text := fmt.Sprintf("%d %s", n, v)
		if n > 0 {
			text = t.p.verdictText(v, text)
		}
		vs = append(vs, text)
	}
	line("verdicts", strings.Join(vs, ", "))
	var fs []string
	for sev := rules.Critical; sev >= rules.Info; sev-- {
		n := s.Findings[sev.String()]
		text := fmt.Sprintf("%d %s", n, sev)
		if n > 0 {
			text = t.p.severityText(sev, text)
		}
		fs = append(fs, text)
	}
	line("findings", strings.Join(fs, ", "))
	line("suppressed", strconv.Itoa(s.Suppressed))
	line("input errors", strconv.Itoa(s.InputErrors))
	if t.verbose && len(s.DecidedBy) > 0 {
		layers := make([]string, 0, len(s.DecidedBy))
		for l := range s.DecidedBy {
			layers = append(layers, l)
		}
		sort.Strings(layers)
		for i, l := range layers {
			layers[i] = fmt.Sprintf("%s %d", l, s.DecidedBy[l])
		}
		line("decided by", strings.Join(layers, ", "))
	}
	if !d.Complete {
		t.printf("\n%s\n", t.p.paint(ansiYellow,
			fmt.Sprintf("INCOMPLETE: %d input errors; affected verdicts are Unknown", s.InputErrors)))
	}
}

// identityKind shortens a workload's own identity to its kind, for the
// table; the JSON report carries it in full.
func identityKind(id string) string {
	for _, k := range []struct{ prefix, short string }{
		{"IRSA", "IRSA"}, {"GKE Workload Identity", "GKE WI"}, {"Azure Workload Identity", "Azure WI"},
	} {
		if strings.HasPrefix(id, k.prefix) {
			return k.short
		}
	}
	if id == "" {
		return "-"
	}
	return id
}
