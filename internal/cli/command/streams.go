package command

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// Streams are a command's standard input, output and error.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Exit codes.
const (
	ExitClean    = 0
	ExitFindings = 1
	ExitUsage    = 2
	// ExitInput is the same code as usage errors: the input was wrong.
	ExitInput = 2
)

// ExitError ends a command with an exit code. Err, when set, is printed.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode is the exit code for a command's error, which it prints to
// s.ErrOut as "name: error": 0 without an error, the code of an ExitError,
// and the usage code for any other error.
func ExitCode(s Streams, name string, err error) int {
	if err == nil {
		return ExitClean
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		if exit.Err != nil {
			fmt.Fprintln(s.ErrOut, name+":", exit.Err)
		}
		return exit.Code
	}
	fmt.Fprintln(s.ErrOut, name+":", err)
	return ExitUsage
}
