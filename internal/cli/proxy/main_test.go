package proxy

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// childEnv makes the test binary run the proxy command instead of the
// tests: the network-namespace test starts it inside the node namespace,
// where a process cannot be moved from this one. The arguments come one a
// line.
const childEnv = "IMDSGUARD_PROXY_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(childEnv); ok {
		cmd := NewCommand(cli.Streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
		cmd.SetArgs(strings.Split(args, "\n"))
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "proxy child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	testenv.Main(m)
}
