package proxy

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/cli/command"
	"github.com/imdsguard/imdsguard/internal/proxy/redirect"
	"github.com/imdsguard/imdsguard/internal/proxy/server"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// recorder is a redirector that notes each call and whether the proxy was
// listening at that moment.
type recorder struct {
	addr  string
	mu    sync.Mutex
	calls []string
}

func (r *recorder) note(call string) error {
	c, err := net.DialTimeout("tcp", r.addr, time.Second)
	state := "closed"
	if err == nil {
		c.Close()
		state = "listening"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call+" while "+state)
	return nil
}

func (r *recorder) Drop() error     { return r.note("drop") }
func (r *recorder) Redirect() error { return r.note("redirect") }
func (r *recorder) Remove() error   { return r.note("remove") }
func (r *recorder) Dropped() (map[netip.AddrPort]uint64, error) {
	return map[netip.AddrPort]uint64{netip.MustParseAddrPort("168.63.129.16:80"): 3}, nil
}

// TestBlockedCollector: the blocked services' counters are exported by
// destination.
func TestBlockedCollector(t *testing.T) {
	want := `# HELP imdsguard_proxy_blocked_packets_total Packets from pods to a metadata service the proxy does not serve (--block), dropped; the count restarts when the rules are replaced.
# TYPE imdsguard_proxy_blocked_packets_total counter
imdsguard_proxy_blocked_packets_total{destination="168.63.129.16:80"} 3
`
	if err := testutil.CollectAndCompare(blockedCollector{red: &recorder{}}, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// TestStartOrderFailsClosed: drop before the proxy listens, redirect only
// once it does, and the drop again on exit unless told otherwise.
func TestStartOrderFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		onExit string
		want   string
	}{
		{onExitKeepDrop, "drop while closed, redirect while listening, drop while closed"},
		{onExitRemove, "drop while closed, redirect while listening, remove while closed"},
	} {
		t.Run(tc.onExit, func(t *testing.T) {
			addr := testenv.FreeAddr(t)
			rec := &recorder{addr: addr}
			ctx, cancel := context.WithCancel(context.Background())
			d := deps{
				newRedirector: func(c redirect.Config) (redirector, error) {
					if len(c.PodCIDRs) != 1 || c.ProxyPort == 0 {
						t.Errorf("redirect config %+v", c)
					}
					return rec, nil
				},
				ready: func(net.Addr) { cancel() },
			}
			f := &flags{maxPerSource: server.DefaultMaxConnsPerSource, ioURing: true, cloud: "aws", upstream: "http://127.0.0.1:1", listen: addr, metricsAddr: "0", redirect: true,
				podCIDRs: []string{"10.244.0.0/16"}, table: "t", onExit: tc.onExit, logFormat: "json", logLevel: "info"}
			var errOut bytes.Buffer
			if err := run(ctx, cli.Streams{Out: &bytes.Buffer{}, ErrOut: &errOut}, f, true, d); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(rec.calls, ", "); got != tc.want {
				t.Fatalf("calls: %s\nwant:  %s", got, tc.want)
			}
		})
	}
}

// TestListenFailureKeepsDrop: when the proxy cannot listen, the drop stays
// and the command fails.
func TestListenFailureKeepsDrop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	rec := &recorder{addr: "127.0.0.1:1"}
	d := deps{newRedirector: func(redirect.Config) (redirector, error) { return rec, nil }, ready: func(net.Addr) {}}
	f := &flags{maxPerSource: server.DefaultMaxConnsPerSource, ioURing: true, cloud: "aws", upstream: "http://127.0.0.1:1", listen: ln.Addr().String(), metricsAddr: "0", redirect: true,
		podInterfaces: []string{"veth*"}, onExit: onExitKeepDrop, logFormat: "json", logLevel: "info"}
	err = run(context.Background(), cli.Streams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, f, true, d)
	if err == nil || !strings.Contains(err.Error(), "stays dropped") {
		t.Fatalf("err = %v", err)
	}
	if got := strings.Join(rec.calls, ", "); got != "drop while closed" {
		t.Fatalf("calls: %s", got)
	}
}

// TestPodInterfacesDetected: given neither pod CIDRs nor interfaces (and no
// node to read CIDRs from), the proxy redirects traffic from the host's
// interfaces named like a known CNI's pods', by prefix; with none, it
// stops before touching nftables and says what to give.
func TestPodInterfacesDetected(t *testing.T) {
	for _, tc := range []struct {
		name    string
		host    []string
		want    []string // the redirect's interfaces; nil: a usage error
		wantErr string
	}{
		{name: "calico and bridge", host: []string{"lo", "eth0", "cali1a2b3c4d5e6", "cali9f8e7d6c5b4", "veth12ab34cd"}, want: []string{"cali*", "veth*"}},
		{name: "aws vpc cni", host: []string{"lo", "ens5", "ens6", "eni3c4d5e6f7a8"}, want: []string{"eni*"}},
		{name: "cilium", host: []string{"lo", "eth0", "cilium_host", "cilium_net", "lxc_health", "lxc5a6b7c8d9e0f"}, want: []string{"lxc*"}},
		{name: "a bare prefix is not an interface of pods", host: []string{"lo", "eth0", "veth"}, wantErr: "give --pod-cidr or --pod-interface"},
		{name: "unknown cni", host: []string{"lo", "eth0", "antrea-gw0"}, wantErr: "no --node-name to read pod CIDRs from, and no interface is named like a known CNI's pods' (eni*, azv*, cali*, lxc*, gke*, veth*)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := testenv.FreeAddr(t)
			rec := &recorder{addr: addr}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var got *redirect.Config
			d := deps{
				newRedirector: func(c redirect.Config) (redirector, error) { got = &c; return rec, nil },
				ready:         func(net.Addr) { cancel() },
				interfaces:    func() ([]string, error) { return tc.host, nil },
			}
			f := &flags{maxPerSource: server.DefaultMaxConnsPerSource, ioURing: true, cloud: "aws", upstream: "http://127.0.0.1:1", listen: addr, metricsAddr: "0", redirect: true,
				table: "t", onExit: onExitKeepDrop, logFormat: "json", logLevel: "info"}
			err := run(ctx, cli.Streams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, f, true, d)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || got != nil {
					t.Fatalf("err = %v, redirector %+v; want %q before any redirector", err, got, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || !slices.Equal(got.PodInterfaces, tc.want) || len(got.PodCIDRs) != 0 {
				t.Fatalf("redirect config %+v, want interfaces %v", got, tc.want)
			}
		})
	}
}

// TestRecordEventsNeedsNode: Events are recorded on the pods of a node, so
// --record-events without --node-name is a usage error, found before any
// rule is written.
func TestRecordEventsNeedsNode(t *testing.T) {
	rec := &recorder{addr: "127.0.0.1:1"}
	d := deps{newRedirector: func(redirect.Config) (redirector, error) { return rec, nil }, ready: func(net.Addr) {}}
	f := &flags{maxPerSource: server.DefaultMaxConnsPerSource, ioURing: true, cloud: "aws", upstream: "http://127.0.0.1:1", listen: "127.0.0.1:0", metricsAddr: "0", recordEvents: true,
		onExit: onExitKeepDrop, logFormat: "json", logLevel: "info"}
	err := run(context.Background(), cli.Streams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, f, true, d)
	var exit *cli.ExitError
	if !errors.As(err, &exit) || exit.Code != cli.ExitUsage || !strings.Contains(err.Error(), "--record-events needs --node-name") || len(rec.calls) != 0 {
		t.Fatalf("err = %v, calls %v", err, rec.calls)
	}
}

// TestFlagErrors: a bad flag value stops the command before any rule is
// written, with exit code 2 and a message naming the flag.
func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--block", "168.63.129.16"}, `--block "168.63.129.16": want ADDR:PORT`},
		{[]string{"--block", "wireserver:80"}, `--block "wireserver:80": want ADDR:PORT`},
		{[]string{"--max-conns-per-source", "0"}, "--max-conns-per-source 0: want 1 or more"},
		{[]string{"--on-exit", "maybe"}, `--on-exit "maybe": want keep-drop or remove`},
	} {
		var out, errOut bytes.Buffer
		args := append([]string{"--cloud", "aws", "--pod-cidr", "10.244.0.0/16", "--listen", "127.0.0.1:18999",
			"--metrics-bind-address", "0", "--node-name", "", "--nft-table", "igp-flag-test"}, tc.args...)
		code := Run(context.Background(), command.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args)
		if code != command.ExitUsage || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut.String(), command.ExitUsage, tc.want)
		}
	}
}
