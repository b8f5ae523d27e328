// Command imdsguard-proxy is `imdsguard proxy` on its own: the node metadata
// proxy without the scanners, the controller and their API types, so that
// the DaemonSet on every node needs less memory (docs/proxy.md). It takes
// the same flags.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/imdsguard/imdsguard/internal/cli/command"
	"github.com/imdsguard/imdsguard/internal/cli/proxy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := proxy.Run(ctx, command.Streams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}
