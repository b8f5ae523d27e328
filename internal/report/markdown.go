package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// markdownBudget bounds a Markdown report, so that it fits a pull-request
// comment (GitHub takes 65,536 characters). Sections past the budget are
// left out, and the report says how many.
const markdownBudget = 60000

// renderMarkdown writes a compact, deterministic summary for a pull-request
// comment: the counts, then the findings and each namespace's workloads in
// collapsible sections, most severe first.
func renderMarkdown(w io.Writer, d *Document, title string) error {
	m := &mdWriter{}
	s := d.Summary
	heading := "imdsguard"
	if title != "" {
		heading += ": " + title
	}
	m.printf("### %s\n\n", heading)
	reachable, unknown := s.Verdicts[reach.Reachable.String()], s.Verdicts[reach.Unknown.String()]
	switch {
	case !d.Complete:
		m.printf("**Incomplete:** %d input error(s); the verdicts they affect are Unknown.\n\n", s.InputErrors)
	case reachable == 0 && unknown == 0:
		m.printf("No workload can reach a metadata endpoint.\n\n")
	}
	m.printf("| namespaces | workloads | Reachable | Unknown | Blocked | findings | suppressed |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	var fs []string
	for sev := rules.Critical; sev >= rules.Info; sev-- {
		if n := s.Findings[sev.String()]; n > 0 {
			fs = append(fs, fmt.Sprintf("%d %s", n, sev))
		}
	}
	if len(fs) == 0 {
		fs = []string{"0"}
	}
	m.printf("| %d | %d | %d | %d | %d | %s | %d |\n\n", s.Namespaces, s.Workloads, reachable, unknown,
		s.Verdicts[reach.Blocked.String()], strings.Join(fs, ", "), s.Suppressed)
	targets := metadataTargets(d)
	if len(targets) > 0 {
		var ts []string
		for i, tg := range targets {
			ts = append(ts, fmt.Sprintf("%s = `%s`", targetLabel(i), tg.ID))
		}
		m.printf("Endpoints: %s\n\n", strings.Join(ts, ", "))
	}
	if len(d.Errors) > 0 {
		m.section(fmt.Sprintf("Input errors (%d)", len(d.Errors)), func(b *strings.Builder) {
			for _, e := range d.Errors {
				where := e.Source.String()
				if e.Object != nil {
					where += ": " + e.Object.String()
				}
				fmt.Fprintf(b, "- `%s`: %s\n", mdCode(where), mdText(e.Message))
			}
		})
	}
	active := activeFindings(d)
	if len(active) > 0 {
		m.section(fmt.Sprintf("Findings (%d)", len(active)), func(b *strings.Builder) {
			b.WriteString("| severity | rule | where | finding |\n|---|---|---|---|\n")
			for _, f := range active {
				fmt.Fprintf(b, "| %s | %s | `%s` | %s |\n", f.Severity, f.RuleID, mdCode(f.Source.String()), mdText(f.Message))
			}
		})
	}
	byNS := groupByNamespace(d)
	order := namespaceOrder(byNS)
	// Namespaces with something reachable first, then unknown, then the rest.
	rank := func(ns string) int {
		worst := 0
		for _, wl := range byNS[ns].workloads {
			for _, v := range wl.Verdicts {
				if r := map[reach.Verdict]int{reach.Reachable: 2, reach.Unknown: 1}[v.Verdict]; r > worst {
					worst = r
				}
			}
		}
		return -worst
	}
	sort.SliceStable(order, func(i, j int) bool { return rank(order[i]) < rank(order[j]) })
	for _, ns := range order {
		g := byNS[ns]
		if ns == "" || len(g.workloads) == 0 {
			continue
		}
		open := 0
		for _, wl := range g.workloads {
			for _, v := range wl.Verdicts {
				if v.Verdict != reach.Blocked {
					open++
					break
				}
			}
		}
		m.section(fmt.Sprintf("Namespace %s: %d of %d workload(s) not Blocked", ns, open, len(g.workloads)), func(b *strings.Builder) {
			b.WriteString("| workload | hostNetwork |")
			for i := range targets {
				b.WriteString(" " + targetLabel(i) + " |")
			}
			b.WriteString("\n|---|---|" + strings.Repeat("---|", len(targets)) + "\n")
			for _, wl := range g.workloads {
				host := ""
				if wl.HostNetwork {
					host = "yes"
				}
				fmt.Fprintf(b, "| %s/%s | %s |", wl.Object.Kind, mdText(wl.Object.Name), host)
				for _, tg := range targets {
					v, ok := findVerdict(wl, tg.ID)
					cell := "-"
					if ok {
						cell = v.Verdict.String()
						if v.Verdict == reach.Reachable {
							cell = "**" + cell + "**"
						}
					}
					b.WriteString(" " + cell + " |")
				}
				b.WriteString("\n")
			}
		})
	}
	if m.left > 0 {
		m.printf("\n_%d more section(s) left out to fit a comment; run `imdsguard scan` for the full report._\n", m.left)
	}
	_, err := io.WriteString(w, m.b.String())
	return err
}

// activeFindings are the unsuppressed findings, most severe first, in a
// stable order.
func activeFindings(d *Document) []*rules.Finding {
	var out []*rules.Finding
	for i := range d.Findings {
		if d.Findings[i].Suppressed == nil {
			out = append(out, &d.Findings[i])
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.RuleID != b.RuleID {
			return a.RuleID < b.RuleID
		}
		if a.Source.File != b.Source.File {
			return a.Source.File < b.Source.File
		}
		return a.Source.Line < b.Source.Line
	})
	return out
}

type mdWriter struct {
	b    strings.Builder
	left int
}

func (m *mdWriter) printf(format string, args ...any) { fmt.Fprintf(&m.b, format, args...) }

// section writes a collapsible section, or counts it as left out when it
// would pass the budget.
func (m *mdWriter) section(summary string, body func(*strings.Builder)) {
	var b strings.Builder
	fmt.Fprintf(&b, "<details><summary>%s</summary>\n\n", mdText(summary))
	body(&b)
	b.WriteString("\n</details>\n\n")
	if m.left > 0 || m.b.Len()+b.Len() > markdownBudget {
		m.left++
		return
	}
	m.b.WriteString(b.String())
}

// mdText escapes text for a Markdown table cell or summary: the characters
// that would end a cell, start markup or open HTML.
func mdText(s string) string {
	r := strings.NewReplacer("\\", "\\\\", "|", "\\|", "*", "\\*", "_", "\\_", "`", "\\`", "<", "&lt;", ">", "&gt;", "\n", " ", "\r", " ")
	return r.Replace(s)
}

// mdCode makes text safe inside a code span in a table cell.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "|", "\\|", "\n", " ", "\r", " ").Replace(s)
}
