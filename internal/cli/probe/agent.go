package probe

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/probe"
)

// TerminationLog is where Kubernetes reads a container's termination
// message by default.
const TerminationLog = "/dev/termination-log"

func newAgentCommand(s cli.Streams, d dialer) *cobra.Command {
	f := &agentFlags{}
	var termLog string
	cmd := &cobra.Command{
		Use:   "agent [flags]",
		Short: "Ask every metadata endpoint for credentials from here and print what each answered, as JSON",
		Long: "The probe agent, run inside probe pods by `imdsguard probe`. It asks each metadata endpoint for " +
			"credentials the way a compromised pod would and prints a JSON report (at most 4096 bytes, the size " +
			"of a termination message) of how each answered. Secrets are never printed: an answer is classified " +
			"by its shape and dropped.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := f.options(d)
			if err != nil {
				return &cli.ExitError{Code: cli.ExitUsage, Err: err}
			}
			b, err := probe.Run(cmd.Context(), o).Encode()
			if err != nil {
				return err
			}
			if termLog != "" {
				if err := os.WriteFile(termLog, b, 0o644); err != nil {
					return fmt.Errorf("writing the termination message: %w", err)
				}
			}
			_, err = fmt.Fprintln(s.Out, string(b))
			return err
		},
	}
	f.add(cmd.Flags())
	cmd.Flags().StringVar(&termLog, "termination-log", "", "also write the report here (in a probe pod: "+TerminationLog+")")
	return cmd
}
