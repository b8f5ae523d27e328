package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/imdsguard/imdsguard/internal/report"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// OutputFlags choose how a report is written and when findings fail the
// command: the flags scan and probe share.
type OutputFlags struct {
	Format string
	Output string
	FailOn string
	Color  string
}

// Add registers the flags.
func (f *OutputFlags) Add(fs *pflag.FlagSet) {
	fs.StringVarP(&f.Format, "format", "f", "table", "output format: "+formatNames())
	fs.StringVarP(&f.Output, "output", "o", "", "write the report to this file instead of stdout")
	fs.StringVar(&f.FailOn, "fail-on", "low", "exit 1 when an unsuppressed finding has this severity or higher (critical, high, medium, low, info, or none)")
	fs.StringVar(&f.Color, "color", "auto", "colour the table: auto (only on a terminal), always or never")
}

// Output is the checked OutputFlags.
type Output struct {
	format    report.Format
	threshold rules.Severity
	never     bool
	flags     OutputFlags
}

// Parse checks the flags; a bad value is a usage error.
func (f *OutputFlags) Parse() (*Output, error) {
	format, err := report.ParseFormat(f.Format)
	if err != nil {
		return nil, &ExitError{Code: ExitUsage, Err: err}
	}
	o := &Output{format: format, flags: *f}
	if strings.EqualFold(f.FailOn, "none") {
		o.never = true
	} else if o.threshold, err = rules.ParseSeverity(f.FailOn); err != nil {
		return nil, &ExitError{Code: ExitUsage, Err: fmt.Errorf("--fail-on: %w", err)}
	}
	if f.Color != "auto" && f.Color != "always" && f.Color != "never" {
		return nil, &ExitError{Code: ExitUsage, Err: fmt.Errorf("--color must be auto, always or never, not %q", f.Color)}
	}
	return o, nil
}

// Render writes the documents to the chosen output in the chosen format.
func (o *Output) Render(s Streams, docs []report.ClusterDocument, verbose bool) error {
	return o.Write(s, verbose, func(w io.Writer, f report.Format, ro report.Options) error {
		return report.RenderClusters(w, docs, f, ro)
	})
}

// Format is the chosen format.
func (o *Output) Format() report.Format { return o.format }

// Write opens the chosen output and has render write the report to it.
func (o *Output) Write(s Streams, verbose bool, render func(io.Writer, report.Format, report.Options) error) error {
	out, closeOut, err := openOutput(s, o.flags.Output)
	if err != nil {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	color := o.flags.Color == "always" || (o.flags.Color == "auto" && o.flags.Output == "" && IsTerminal(s.Out) && os.Getenv("NO_COLOR") == "")
	if err := render(out, o.format, report.Options{Color: color, Verbose: verbose}); err != nil {
		_ = closeOut()
		return err
	}
	return closeOut()
}

// Failing counts the unsuppressed findings at or above --fail-on; with
// --fail-on none, none fail.
func (o *Output) Failing(fs []rules.Finding) int {
	if o.never {
		return 0
	}
	n := 0
	for _, f := range fs {
		if f.Suppressed == nil && f.Severity >= o.threshold {
			n++
		}
	}
	return n
}

func openOutput(s Streams, path string) (io.Writer, func() error, error) {
	if path == "" {
		return s.Out, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening output: %w", err)
	}
	return f, f.Close, nil
}

// formatNames lists the formats for the help: "table, json, ... or html".
func formatNames() string {
	fs := report.Formats()
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = string(f)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
