package report

import (
	"fmt"
	"io"
	"strings"
)

// Format names an output format.
type Format string

// The formats Render knows.
const (
	FormatTable Format = "table"
	FormatJSON  Format = "json"
	FormatSARIF Format = "sarif"
	// FormatMarkdown is a compact summary for a pull-request comment.
	FormatMarkdown Format = "markdown"
	// FormatHTML is one self-contained page.
	FormatHTML Format = "html"
)

// Formats returns every format, the default first.
func Formats() []Format {
	return []Format{FormatTable, FormatJSON, FormatSARIF, FormatMarkdown, FormatHTML}
}

// ParseFormat parses a --format value, case-insensitively. The empty string
// is the default, table.
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return FormatTable, nil
	}
	for _, f := range Formats() {
		if strings.EqualFold(string(f), s) {
			return f, nil
		}
	}
	names := make([]string, 0, len(Formats()))
	for _, f := range Formats() {
		names = append(names, string(f))
	}
	return "", fmt.Errorf("unknown format %q (want one of %s)", s, strings.Join(names, ", "))
}

// Options tune rendering. Only the table format reads them.
type Options struct {
	// Color enables ANSI colours. Set it only when the caller knows the
	// output is a terminal and the user has not opted out (the CLI decides).
	Color bool
	// Verbose adds the trace of every verdict and the related locations of
	// every finding.
	Verbose bool
}

// Render writes d to w in format f.
func Render(w io.Writer, d *Document, f Format, o Options) error {
	if d == nil {
		return fmt.Errorf("rendering %s: no document", f)
	}
	var err error
	switch f {
	case FormatTable, "":
		err = renderTable(w, d, o)
	case FormatJSON:
		err = renderJSON(w, d)
	case FormatSARIF:
		err = renderSARIF(w, d)
	case FormatMarkdown:
		err = renderMarkdown(w, d, "")
	case FormatHTML:
		err = renderHTML(w, []htmlView{newHTMLView(d, "")})
	default:
		return fmt.Errorf("rendering: unknown format %q", f)
	}
	if err != nil {
		return fmt.Errorf("rendering %s: %w", f, err)
	}
	return nil
}

// ClusterDocument is the report of one cluster in a multi-cluster scan.
type ClusterDocument struct {
	// Cluster is the kubeconfig context; empty for files.
	Cluster  string
	Document *Document
}

// RenderClusters writes the reports of several clusters as one output: a
// section per cluster in the table, a run per cluster in SARIF, and, in
// JSON, a list of scan/v1 documents under "clusters" (see ClustersVersion).
// One document without a cluster name renders exactly as Render.
func RenderClusters(w io.Writer, docs []ClusterDocument, f Format, o Options) error {
	if len(docs) == 1 && docs[0].Cluster == "" {
		return Render(w, docs[0].Document, f, o)
	}
	var err error
	switch f {
	case FormatTable, "":
		for _, cd := range docs {
			fmt.Fprintf(w, "== cluster %s ==\n", cd.Cluster)
			if err = renderTable(w, cd.Document, o); err != nil {
				break
			}
		}
	case FormatJSON:
		err = renderJSONClusters(w, docs)
	case FormatSARIF:
		err = renderSARIFRuns(w, docs)
	case FormatMarkdown:
		for _, cd := range docs {
			if err = renderMarkdown(w, cd.Document, "cluster "+cd.Cluster); err != nil {
				break
			}
		}
	case FormatHTML:
		views := make([]htmlView, len(docs))
		for i, cd := range docs {
			views[i] = newHTMLView(cd.Document, "Cluster "+cd.Cluster)
		}
		err = renderHTML(w, views)
	default:
		return fmt.Errorf("rendering: unknown format %q", f)
	}
	if err != nil {
		return fmt.Errorf("rendering %s: %w", f, err)
	}
	return nil
}
