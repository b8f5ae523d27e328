// Package explain is the `imdsguard explain` command: the trace for one
// workload to each metadata endpoint, in plain words.
package explain

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/scan"
	"github.com/imdsguard/imdsguard/internal/version"
)

// NewCommand returns the explain command.
func NewCommand(s cli.Streams) *cobra.Command {
	var in cli.InputFlags
	var all bool
	cmd := &cobra.Command{
		Use:   "explain NAMESPACE/KIND/NAME PATH... | -",
		Short: "Explain, step by step, why a workload can or cannot reach each metadata endpoint",
		Example: "  imdsguard explain team-a/Deployment/api ./examples\n" +
			"  imdsguard explain payments/deployment/checkout --cloud aws manifests/",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := in.Scan(cmd.Context(), s, args[1:], version.Get().Version)
			if err != nil {
				return err
			}
			wr, err := res.FindWorkload(args[0])
			if err != nil {
				return &cli.ExitError{Code: cli.ExitUsage, Err: err}
			}
			Write(s.Out, res, wr, all)
			if len(res.InputErrors) > 0 {
				return &cli.ExitError{Code: cli.ExitInput, Err: errors.New("input errors: the explanation is incomplete")}
			}
			return nil
		},
	}
	in.Add(cmd.Flags())
	cmd.Flags().BoolVar(&all, "keep-open", false, "also explain the node-local services that must stay reachable")
	return cmd
}

// Write prints the explanation of one workload.
func Write(w io.Writer, res *scan.Result, wr *reach.WorkloadResult, keepOpen bool) {
	wl := wr.Workload
	fmt.Fprintf(w, "%s (%s)\n", wl.Ref, wl.Source)
	if wl.Inferred {
		fmt.Fprintln(w, "  known only through a Pod's ownerReference; its pods' labels were used")
	}
	if len(wl.Templates) > 1 {
		fmt.Fprintf(w, "  %d pod shapes (template and observed pods); the worst verdict is shown\n", len(wl.Templates))
	}
	if len(wr.Policies) == 0 {
		fmt.Fprintln(w, "  no egress NetworkPolicy selects its pods")
	} else {
		names := make([]string, len(wr.Policies))
		for i, p := range wr.Policies {
			names[i] = p.Ref.Name + " (" + p.Source.String() + ")"
		}
		fmt.Fprintf(w, "  selected for egress by: %s\n", strings.Join(names, ", "))
	}
	targets, results := res.Analysis.Targets, wr.Results
	if keepOpen {
		targets = append(append([]reach.Target{}, targets...), res.KeepOpen...)
		results = append(append([]reach.Result{}, results...), res.Analysis.Extra(wr, res.KeepOpen)...)
	}
	for ti, t := range targets {
		r := results[ti]
		fmt.Fprintf(w, "\n%s %s — %s\n", t, describe(t), r.Verdict)
		for i, st := range r.Trace {
			fmt.Fprintf(w, "  %d. %s: %s. %s\n", i+1, st.Layer, st.Decision, sentence(st.Reason))
			for _, ref := range st.Rules {
				fmt.Fprintf(w, "     - %s", ref.Policy)
				if ref.Rule >= 0 && !strings.HasPrefix(ref.Policy.Kind, "Cilium") {
					// A Cilium rule's Why starts with its path in the object.
					fmt.Fprintf(w, " egress rule %d", ref.Rule)
				}
				fmt.Fprintf(w, " at %s", ref.Source)
				if ref.Why != "" {
					fmt.Fprintf(w, ": %s", ref.Why)
				}
				fmt.Fprintln(w)
			}
		}
	}
}

func describe(t reach.Target) string {
	var s []string
	for _, e := range t.Endpoints {
		s = append(s, e.Service)
	}
	return "(" + strings.Join(s, ", ") + ")"
}

func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
