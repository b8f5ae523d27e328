// Package probe is the `imdsguard probe` command: it finds out what the
// metadata services answer from the local network namespace, or from
// short-lived pods in a cluster, and compares that with the static verdict.
package probe

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/probe"
	"github.com/imdsguard/imdsguard/internal/report"
	"github.com/imdsguard/imdsguard/internal/version"
)

type flags struct {
	agent  agentFlags
	output cli.OutputFlags
	local  bool
	pods   podFlags
}

// NewCommand returns the probe command.
func NewCommand(s cli.Streams) *cobra.Command {
	return newCommand(s, dialer{})
}

func newCommand(s cli.Streams, d dialer) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "probe [flags] --local | -n NAMESPACE | -A | --as NAMESPACE/KIND/NAME | --node-selector SELECTOR",
		Short: "Prove from inside the cluster what the metadata services really answer",
		Long: "Asks every metadata endpoint for credentials, the way a compromised pod would, and classifies " +
			"each answer: credentials served, metadata only, refused by the service's token or header rules, " +
			"refused by the imdsguard proxy, timeout, connection refused, DNS failure. Secrets are never kept.\n\n" +
			"--local probes from this machine's network namespace. -n and -A run a short-lived probe pod in each " +
			"namespace (or, with --as, one that wears a workload's labels, ServiceAccount and hostNetwork " +
			"setting), read each pod's report from its termination message, delete the pods, and compare what " +
			"they met with the static verdict of a scan of the same cluster. --node-selector also probes from a " +
			"hostNetwork pod on each selected node.\n\n" +
			"Exit codes: 0 clean; 1 findings at or above --fail-on; 2 a usage error, or probes that gave no report.",
		Example: "  imdsguard probe --local\n  imdsguard probe -n payments\n" +
			"  imdsguard probe --as payments/Deployment/api -f json\n  imdsguard probe -A --parallel 8 --deadline 3m",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := f.output.Parse()
			if err != nil {
				return err
			}
			if f.local {
				if f.pods.set(cmd.Flags()) {
					return &cli.ExitError{Code: cli.ExitUsage, Err: errors.New("--local probes this machine: it takes no cluster flags")}
				}
				return runLocal(cmd.Context(), s, f, d, out)
			}
			return runPods(cmd.Context(), s, f, cmd.Flags().Changed("node-selector"), out)
		},
	}
	f.agent.add(cmd.Flags())
	f.output.Add(cmd.Flags())
	cmd.Flags().BoolVar(&f.local, "local", false, "probe from this machine's network namespace")
	f.pods.add(cmd.Flags())
	cmd.AddCommand(newAgentCommand(s, d))
	return cmd
}

func runLocal(ctx context.Context, s cli.Streams, f *flags, d dialer, out *cli.Output) error {
	o, err := f.agent.options(d)
	if err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	doc := probe.Document([]probe.Probe{{Object: probe.LocalObject, Source: probe.LocalSource, Report: probe.Run(ctx, o)}}, nil, version.Get().Version)
	return finish(s, out, doc)
}

// finish renders the document and turns its findings into the exit code.
func finish(s cli.Streams, out *cli.Output, doc *report.Document) error {
	if err := out.Render(s, []report.ClusterDocument{{Document: doc}}, true); err != nil { // the trace is what a probe found
		return err
	}
	if len(doc.Errors) > 0 {
		return &cli.ExitError{Code: cli.ExitInput, Err: errors.New("some probes gave no report")}
	}
	if out.Failing(doc.Findings) > 0 {
		return &cli.ExitError{Code: cli.ExitFindings}
	}
	return nil
}
