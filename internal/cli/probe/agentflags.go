package probe

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/imdsguard/imdsguard/internal/probe"
)

// agentFlags choose what the agent asks and where: the flags of
// `probe agent` and `probe --local`.
type agentFlags struct {
	targets     []string
	checks      []string
	timeout     time.Duration
	dialTimeout time.Duration
}

func (f *agentFlags) add(fs *pflag.FlagSet) {
	fs.StringArrayVar(&f.targets, "target", nil, "connect to HOST:PORT instead of an endpoint's real address: ID=HOST:PORT, where ID is a check or endpoint ID (repeatable); the request still names the real host")
	fs.StringSliceVar(&f.checks, "check", nil, "run only these checks (comma-separated IDs; default all: "+strings.Join(checkIDs(), ", ")+")")
	fs.DurationVar(&f.timeout, "check-timeout", 5*time.Second, "the longest one check may take, all its requests together")
	fs.DurationVar(&f.dialTimeout, "dial-timeout", 2*time.Second, "the longest wait for one TCP connection")
}

func checkIDs() []string {
	var ids []string
	for _, c := range probe.Checks() {
		ids = append(ids, c.ID)
	}
	return ids
}

// dialer is how the agent connects; tests hold it to loopback.
type dialer struct {
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	resolver *net.Resolver
}

// options checks the flags and turns them into probe.Options.
func (f *agentFlags) options(d dialer) (probe.Options, error) {
	o := probe.Options{Targets: map[string]string{}, Only: f.checks, Timeout: f.timeout, DialTimeout: f.dialTimeout,
		Dial: d.dial, Resolver: d.resolver}
	for _, t := range f.targets {
		id, hostPort, ok := strings.Cut(t, "=")
		if !ok || id == "" {
			return o, fmt.Errorf("--target %q: want ID=HOST:PORT", t)
		}
		if _, _, err := net.SplitHostPort(hostPort); err != nil {
			return o, fmt.Errorf("--target %q: %w", t, err)
		}
		o.Targets[id] = hostPort
	}
	if f.timeout <= 0 || f.dialTimeout <= 0 {
		return o, fmt.Errorf("--check-timeout and --dial-timeout must be positive")
	}
	return o, o.Validate()
}

// args renders the flags back into arguments for an agent in a pod.
func (f *agentFlags) args() []string {
	var out []string
	for _, t := range f.targets {
		out = append(out, "--target="+t)
	}
	if len(f.checks) > 0 {
		out = append(out, "--check="+strings.Join(f.checks, ","))
	}
	return append(out, "--check-timeout="+f.timeout.String(), "--dial-timeout="+f.dialTimeout.String())
}
