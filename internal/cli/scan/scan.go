// Package scan is the `imdsguard scan` command: audit inputs and report every
// workload's reachability of the metadata endpoints.
package scan

import (
	"fmt"
	"io"
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
	output  cli.OutputFlags
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
	f.output.Add(cmd.Flags())
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "also list files skipped and objects of kinds that play no part in the verdict")
	return cmd
}

func runE(cmd *cobra.Command, s cli.Streams, f *flags, args []string) error {
	out, err := f.output.Parse()
	if err != nil {
		return err
	}
	if f.input.Streamable() && report.CanStream(out.Format()) {
		return runStreamed(cmd, s, f, out, args)
	}
	results, err := f.input.ScanAll(cmd.Context(), s, args, version.Get().Version)
	if err != nil {
		return err
	}
	inputErrors, failed := 0, 0
	docs := make([]report.ClusterDocument, 0, len(results))
	for _, res := range results {
		if f.verbose {
			printVerbose(s.ErrOut, res.Result)
		}
		docs = append(docs, report.ClusterDocument{Cluster: res.Cluster, Document: res.Document()})
		inputErrors += len(res.InputErrors)
		failed += out.Failing(res.Findings)
	}
	if len(results) == 1 {
		docs[0].Cluster = "" // one cluster renders as a plain scan/v1 report
	}
	if err := out.Render(s, docs, f.verbose); err != nil {
		return err
	}
	if inputErrors > 0 {
		return &cli.ExitError{Code: cli.ExitInput, Err: fmt.Errorf("%d input error(s): the scan is incomplete", inputErrors)}
	}
	if failed > 0 {
		return &cli.ExitError{Code: cli.ExitFindings}
	}
	return nil
}

// runStreamed scans files one group of namespaces at a time, so that a
// large cluster's report never has to fit in memory (docs/performance.md).
func runStreamed(cmd *cobra.Command, s cli.Streams, f *flags, out *cli.Output, args []string) error {
	plan, err := f.input.Prepare(cmd.Context(), s, args, version.Get().Version)
	if err != nil {
		return err
	}
	defer func() { _ = plan.Close() }()
	if f.verbose {
		printVerbose(s.ErrOut, plan.Result)
	}
	failed := 0
	err = out.Write(s, f.verbose, func(w io.Writer, format report.Format, ro report.Options) error {
		return plan.Render(cmd.Context(), w, format, ro, func(fs []rules.Finding) { failed += out.Failing(fs) })
	})
	cli.PrintWarnings(s, plan.Warnings)
	if err != nil {
		return err
	}
	if n := len(plan.InputErrors); n > 0 {
		return &cli.ExitError{Code: cli.ExitInput, Err: fmt.Errorf("%d input error(s): the scan is incomplete", n)}
	}
	if failed > 0 {
		return &cli.ExitError{Code: cli.ExitFindings}
	}
	return nil
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
