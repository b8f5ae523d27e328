// Package version is the `imdsguard version` command.
package version

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/version"
)

// NewCommand returns the version command.
func NewCommand(s cli.Streams) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print build information",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			i := version.Get()
			if asJSON {
				enc := json.NewEncoder(s.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(i)
			}
			fmt.Fprintf(s.Out, "imdsguard %s (%s, %s", i.Version, i.GoVersion, i.Platform)
			if i.Commit != "" {
				fmt.Fprintf(s.Out, ", commit %s", i.Commit)
				if i.Modified {
					fmt.Fprint(s.Out, "+dirty")
				}
			}
			fmt.Fprintln(s.Out, ")")
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
