// Package rulescmd is the `imdsguard rules` command: list the rules, or print
// the rule reference as Markdown.
package rulescmd

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// NewCommand returns the rules command.
func NewCommand(s cli.Streams) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "List the rules, or print the rule reference (--format markdown)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			reg := rules.Default()
			switch format {
			case "markdown":
				return reg.Markdown(s.Out)
			case "table":
				tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSEVERITY\tNAME\tTITLE")
				for _, r := range reg.Rules() {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Severity, r.Name, r.Title)
				}
				return tw.Flush()
			}
			return &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("--format must be table or markdown, not %q", format)}
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "table or markdown")
	return cmd
}
