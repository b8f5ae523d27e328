package proxy

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/proxy/redirect"
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
			f := &flags{cloud: "aws", upstream: "http://127.0.0.1:1", listen: addr, metricsAddr: "0", redirect: true,
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
	f := &flags{cloud: "aws", upstream: "http://127.0.0.1:1", listen: ln.Addr().String(), metricsAddr: "0", redirect: true,
		podInterfaces: []string{"veth*"}, onExit: onExitKeepDrop, logFormat: "json", logLevel: "info"}
	err = run(context.Background(), cli.Streams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, f, true, d)
	if err == nil || !strings.Contains(err.Error(), "stays dropped") {
		t.Fatalf("err = %v", err)
	}
	if got := strings.Join(rec.calls, ", "); got != "drop while closed" {
		t.Fatalf("calls: %s", got)
	}
}
