package terraform

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

// sourceOf returns the file and first line of r.
func sourceOf(r hcl.Range) model.Source {
	return model.Source{File: r.Filename, Line: r.Start.Line}
}

// diagErrors turns the error diagnostics of HCL into input errors. A
// diagnostic without a subject is placed at line 1 of file, so that every
// error points at a line.
func diagErrors(file string, diags hcl.Diagnostics) []*manifest.InputError {
	var out []*manifest.InputError
	seen := map[string]bool{}
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		src := model.Source{File: file, Line: 1}
		if d.Subject != nil && d.Subject.Filename != "" {
			src = sourceOf(*d.Subject)
			if src.Line < 1 {
				src.Line = 1
			}
		}
		e := &manifest.InputError{Source: src, Msg: diagText(d)}
		if !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	return out
}

// diagText renders a diagnostic as one lowercase line: "summary: detail".
func diagText(d *hcl.Diagnostic) string {
	s := lowerFirst(d.Summary)
	if detail := strings.TrimSuffix(strings.TrimSpace(d.Detail), "."); detail != "" {
		s += ": " + lowerFirst(strings.Join(strings.Fields(detail), " "))
	}
	return s
}

// diagsText renders the errors of diags on one line.
func diagsText(diags hcl.Diagnostics) string {
	var parts []string
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			parts = append(parts, diagText(d))
		}
	}
	return strings.Join(parts, "; ")
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// objectError is an input error about one resource.
func objectError(src model.Source, kind, name, format string, args ...any) *manifest.InputError {
	return &manifest.InputError{
		Source: src,
		Object: model.ObjectRef{Kind: kind, Name: name},
		Msg:    fmt.Sprintf(format, args...),
	}
}
