package cli

import (
	"io"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"

	"github.com/imdsguard/imdsguard/internal/cli/command"
)

// The basics every command shares live in package command, which the
// proxy's own binary links without the scanners; these names keep the
// subcommands' spelling.

// Streams are a command's standard input, output and error.
type Streams = command.Streams

// ExitError ends a command with an exit code. Err, when set, is printed.
type ExitError = command.ExitError

// Exit codes.
const (
	ExitClean    = command.ExitClean
	ExitFindings = command.ExitFindings
	ExitUsage    = command.ExitUsage
	ExitInput    = command.ExitInput
)

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool { return command.IsTerminal(w) }

// RESTConfig loads the kubeconfig the way kubectl does, falling back to
// the in-cluster config.
func RESTConfig(kubeconfig, context string) (*rest.Config, error) {
	return command.RESTConfig(kubeconfig, context)
}

// NewLogger writes structured logs to the command's stderr.
func NewLogger(s Streams, format, level string) (logr.Logger, error) {
	return command.NewLogger(s, format, level)
}
