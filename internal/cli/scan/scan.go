// Package scan is the `imdsguard scan` command: audit inputs and report every
// workload's reachability of the metadata endpoints.
package scan

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/report"
	"github.com/imdsguard/imdsguard/internal/rules"
	"github.com/imdsguard/imdsguard/internal/scan"
	"github.com/imdsguard/imdsguard/internal/version"
)

type flags struct {
	input   cli.InputFlags
	format  string
	output  string
	failOn  string
	color   string
	verbose bool
}

// NewCommand returns the scan command.
func NewCommand(s cli.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "scan [flags] PATH... | - | -A | -n NAMESPACE | --context NAME",
		Short: "Audit manifests for workloads that can reach the cloud metadata service",
		Long: "Reads Kubernetes manifests (YAML or JSON files, directories, or - for stdin), or a live cluster " +
			"(any of --kubeconfig, --context, --contexts, --all-contexts, -n or -A), and answers, " +
			"for every workload and metadata endpoint, Reachable, Blocked or Unknown, with the trace behind " +
			"the answer and the findings of every rule.\n\nExit codes: 0 clean; 1 findings at or above " +
			"--fail-on; 2 an input or usage error.",
		Example: "  imdsguard scan ./examples\n  kubectl get netpol,deploy,ds -A -o yaml | imdsguard scan -f sarif -\n" +
			"  imdsguard scan -A                       # the current kubeconfig context, every namespace\n" +
			"  imdsguard scan --contexts prod-eu,prod-us",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runE(cmd, s, f, args)
		},
	}
	f.input.Add(cmd.Flags())
	cmd.Flags().StringVarP(&f.format, "format", "f", "table", "output format: table, json, sarif, markdown or html")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write the report to this file instead of stdout")
	cmd.Flags().StringVar(&f.failOn, "fail-on", "low", "exit 1 when an unsuppressed finding has this severity or higher (critical, high, medium, low, info, or none)")
	cmd.Flags().StringVar(&f.color, "color", "auto", "colour the table: auto (only on a terminal), always or never")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "also list files skipped and objects of kinds that play no part in the verdict")
	return cmd
}

func runE(cmd *cobra.Command, s cli.Streams, f *flags, args []string) error {
	format, err := report.ParseFormat(f.format)
	if err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	threshold, never, err := parseFailOn(f.failOn)
	if err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	if f.color != "auto" && f.color != "always" && f.color != "never" {
		return &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("--color must be auto, always or never, not %q", f.color)}
	}
	results, err := f.input.ScanAll(cmd.Context(), s, args, version.Get().Version)
	if err != nil {
		return err
	}
	out, closeOut, err := openOutput(s, f.output)
	if err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	color := f.color == "always" || (f.color == "auto" && f.output == "" && cli.IsTerminal(s.Out) && os.Getenv("NO_COLOR") == "")
	inputErrors, failed := 0, 0
	docs := make([]report.ClusterDocument, 0, len(results))
	for _, res := range results {
		if f.verbose {
			printVerbose(s.ErrOut, res.Result)
		}
		docs = append(docs, report.ClusterDocument{Cluster: res.Cluster, Document: res.Document()})
		inputErrors += len(res.InputErrors)
		failed += failing(res.Findings, threshold)
	}
	if len(results) == 1 {
		docs[0].Cluster = "" // one cluster renders as a plain scan/v1 report
	}
	if err := report.RenderClusters(out, docs, format, report.Options{Color: color, Verbose: f.verbose}); err != nil {
		return err
	}
	if err := closeOut(); err != nil {
		return err
	}
	if inputErrors > 0 {
		return &cli.ExitError{Code: cli.ExitInput, Err: fmt.Errorf("%d input error(s): the scan is incomplete", inputErrors)}
	}
	if !never && failed > 0 {
		return &cli.ExitError{Code: cli.ExitFindings}
	}
	return nil
}

func parseFailOn(s string) (rules.Severity, bool, error) {
	if strings.EqualFold(s, "none") {
		return 0, true, nil
	}
	sev, err := rules.ParseSeverity(s)
	if err != nil {
		return 0, false, fmt.Errorf("--fail-on: %w", err)
	}
	return sev, false, nil
}

func failing(fs []rules.Finding, threshold rules.Severity) int {
	n := 0
	for _, f := range fs {
		if f.Suppressed == nil && f.Severity >= threshold {
			n++
		}
	}
	return n
}

func openOutput(s cli.Streams, path string) (io.Writer, func() error, error) {
	if path == "" {
		return s.Out, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening output: %w", err)
	}
	return f, f.Close, nil
}

func printVerbose(w io.Writer, res *scan.Result) {
	for _, p := range res.Skipped {
		if strings.Contains(p, ": ") { // it carries its own reason
			fmt.Fprintln(w, "skipped:", p)
			continue
		}
		fmt.Fprintln(w, "skipped (not .yaml, .yml, .json or .tf):", p)
	}
	kinds := make([]string, 0, len(res.Inventory.UnknownKinds))
	for k := range res.Inventory.UnknownKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "not evaluated: %d object(s) of kind %s\n", res.Inventory.UnknownKinds[k], k)
	}
}
