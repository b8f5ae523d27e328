package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"

	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/rules"
)

//go:embed html.tmpl
var htmlSource string

// htmlTemplate renders the report. It is one self-contained file: styles are
// inline, there is no script, and a Content-Security-Policy forbids every
// fetch, so opening it makes no network request.
var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"lower": strings.ToLower,
}).Parse(htmlSource))

// htmlView is what the template reads: the document arranged for display.
type htmlView struct {
	Title    string
	Doc      *Document
	Targets  []htmlTarget
	Verdicts []htmlCount
	Findings []htmlCount
	Layers   []htmlCount
	Matrix   []htmlRow
	Active   []*rules.Finding
	Clusters []htmlView
}

type htmlTarget struct {
	Label, ID, Endpoints string
}

type htmlCount struct {
	Name  string
	Count int
	Class string
}

// htmlRow is one namespace: a cell per target, and its workloads.
type htmlRow struct {
	Namespace string
	Cells     []htmlCell
	Workloads []htmlWorkload
	Findings  []*rules.Finding
	Open      int
}

// htmlCell counts a namespace's workloads by verdict for one target; Class is
// the worst.
type htmlCell struct {
	Class, Text, Title string
}

type htmlWorkload struct {
	W        *Workload
	Class    string
	Verdicts []htmlVerdict
}

type htmlVerdict struct {
	Target  htmlTarget
	Verdict string
	Class   string
	Trace   []reach.Step
}

func verdictClass(v reach.Verdict) string { return strings.ToLower(v.String()) }

// newHTMLView arranges one document.
func newHTMLView(d *Document, title string) htmlView {
	v := htmlView{Title: title, Doc: d}
	targets := metadataTargets(d)
	for i, tg := range targets {
		var eps []string
		for _, e := range tg.Endpoints {
			eps = append(eps, e.ID)
		}
		v.Targets = append(v.Targets, htmlTarget{Label: targetLabel(i), ID: tg.ID, Endpoints: strings.Join(eps, ", ")})
	}
	for _, vd := range []reach.Verdict{reach.Reachable, reach.Unknown, reach.Blocked} {
		v.Verdicts = append(v.Verdicts, htmlCount{Name: vd.String(), Count: d.Summary.Verdicts[vd.String()], Class: verdictClass(vd)})
	}
	for sev := rules.Critical; sev >= rules.Info; sev-- {
		v.Findings = append(v.Findings, htmlCount{Name: sev.String(), Count: d.Summary.Findings[sev.String()], Class: "sev-" + sev.String()})
	}
	var layers []string
	for l := range d.Summary.DecidedBy {
		layers = append(layers, l)
	}
	sort.Strings(layers)
	for _, l := range layers {
		v.Layers = append(v.Layers, htmlCount{Name: l, Count: d.Summary.DecidedBy[l]})
	}
	v.Active = activeFindings(d)
	byNS := groupByNamespace(d)
	for _, ns := range namespaceOrder(byNS) {
		g := byNS[ns]
		row := htmlRow{Namespace: ns, Findings: g.findings}
		if ns == "" {
			if len(g.findings) == 0 {
				continue
			}
			row.Namespace = "(cluster-wide)"
		}
		for _, tg := range v.Targets {
			counts := map[reach.Verdict]int{}
			for _, wl := range g.workloads {
				if vd, ok := findVerdict(wl, tg.ID); ok {
					counts[vd.Verdict]++
				}
			}
			row.Cells = append(row.Cells, matrixCell(counts, tg, ns))
		}
		for _, wl := range g.workloads {
			hw := htmlWorkload{W: wl, Class: "blocked"}
			worst := reach.Blocked
			for _, tg := range v.Targets {
				vd, ok := findVerdict(wl, tg.ID)
				if !ok {
					continue
				}
				if vd.Verdict > worst {
					worst = vd.Verdict
				}
				hw.Verdicts = append(hw.Verdicts, htmlVerdict{Target: tg, Verdict: vd.Verdict.String(), Class: verdictClass(vd.Verdict), Trace: vd.Trace})
			}
			hw.Class = verdictClass(worst)
			if worst != reach.Blocked {
				row.Open++
			}
			row.Workloads = append(row.Workloads, hw)
		}
		v.Matrix = append(v.Matrix, row)
	}
	return v
}

// matrixCell summarises one namespace and target: "2 Reachable, 1 Blocked",
// coloured by the worst.
func matrixCell(counts map[reach.Verdict]int, tg htmlTarget, ns string) htmlCell {
	var parts []string
	class := "none"
	for _, vd := range []reach.Verdict{reach.Reachable, reach.Unknown, reach.Blocked} {
		if n := counts[vd]; n > 0 {
			if class == "none" {
				class = verdictClass(vd)
			}
			parts = append(parts, fmt.Sprintf("%d %s", n, vd))
		}
	}
	text := "no workloads"
	if len(parts) > 0 {
		text = strings.Join(parts, ", ")
	}
	return htmlCell{Class: class, Text: text, Title: fmt.Sprintf("%s, %s (%s): %s", ns, tg.Label, tg.ID, text)}
}

// renderHTML writes the report as one self-contained HTML page.
func renderHTML(w io.Writer, views []htmlView) error {
	page := struct {
		Views   []htmlView
		Rules   []Rule
		Version string
	}{Views: views}
	if len(views) > 0 {
		page.Rules = views[0].Doc.Rules
		page.Version = views[0].Doc.Tool.Version
	}
	return htmlTemplate.Execute(w, page)
}
