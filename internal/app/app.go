package app

import (
	"context"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/cli/command"
	"github.com/imdsguard/imdsguard/internal/cli/controller"
	"github.com/imdsguard/imdsguard/internal/cli/explain"
	"github.com/imdsguard/imdsguard/internal/cli/fix"
	"github.com/imdsguard/imdsguard/internal/cli/generate"
	"github.com/imdsguard/imdsguard/internal/cli/probe"
	"github.com/imdsguard/imdsguard/internal/cli/proxy"
	"github.com/imdsguard/imdsguard/internal/cli/rulescmd"
	"github.com/imdsguard/imdsguard/internal/cli/scan"
	"github.com/imdsguard/imdsguard/internal/cli/version"
)

// Main runs imdsguard with the process's arguments and exits.
func Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := Run(ctx, cli.Streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

// Run executes one command line and returns the exit code: 0 clean, 1
// findings at or above the threshold, 2 an input or usage error.
func Run(ctx context.Context, s cli.Streams, args []string) int {
	root := NewCommand(s)
	root.SetArgs(args)
	return command.ExitCode(s, "imdsguard", root.ExecuteContext(ctx))
}

// NewCommand builds the root command.
func NewCommand(s cli.Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "imdsguard",
		Short: "Keep Kubernetes workloads away from cloud instance metadata credentials",
		Long: "imdsguard finds every path from a Kubernetes workload to the cloud instance metadata " +
			"service (MITRE ATT&CK T1552.005), explains each verdict, and fixes what it finds.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	})
	root.AddCommand(scan.NewCommand(s), generate.NewCommand(s), fix.NewCommand(s), controller.NewCommand(s), proxy.NewCommand(s), probe.NewCommand(s), explain.NewCommand(s), rulescmd.NewCommand(s), version.NewCommand(s))
	cli.RegisterCompletions(root)
	return root
}
