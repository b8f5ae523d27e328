package controller_test

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/imdsguard/imdsguard/internal/controller"
	"github.com/imdsguard/imdsguard/internal/protection"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// cutter is a TCP proxy on loopback in front of the API server that can
// cut every connection and refuse new ones for a while, as the API server
// does while it restarts. TLS passes through untouched.
type cutter struct {
	l       net.Listener
	backend string
	mu      sync.Mutex
	down    bool
	conns   map[net.Conn]bool
}

func newCutter(t *testing.T, backend string) *cutter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{l: l, backend: backend, conns: map[net.Conn]bool{}}
	go c.serve()
	t.Cleanup(func() { l.Close(); c.cut() })
	return c
}

func (c *cutter) serve() {
	for {
		in, err := c.l.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		down := c.down
		c.mu.Unlock()
		if down {
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", c.backend)
		if err != nil {
			in.Close()
			continue
		}
		c.track(in, out)
		go c.pipe(in, out)
		go c.pipe(out, in)
	}
}

func (c *cutter) track(conns ...net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range conns {
		c.conns[x] = true
	}
}

func (c *cutter) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// cut closes every connection; while down, new ones are refused.
func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for x := range c.conns {
		x.Close()
	}
	c.conns = map[net.Conn]bool{}
}

func (c *cutter) setDown(down bool) {
	c.mu.Lock()
	c.down = down
	c.mu.Unlock()
	if down {
		c.cut()
	}
}

// TestSurvivesAPIServerOutage runs the controller (without leader election)
// through a proxy that cuts it off the API server for five seconds, every
// connection closed and new ones refused, as in an API server restart. A
// namespace created during the outage is protected once the API server is
// reachable again: the controller's watches come back by themselves.
func TestSurvivesAPIServerOutage(t *testing.T) {
	env := testenv.Get(t)
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutter(t, u.Host)
	cfg := rest.CopyConfig(env.Config)
	cfg.Host = "https://" + proxy.l.Addr().String()
	startWith(t, env, protection.Enforce, func(o *controller.Options) { o.Config = cfg })

	createNamespace(t, env, "outage-before", nil, nil)
	waitManaged(t, env, "outage-before", managedName, emptySelector)

	proxy.setDown(true)
	createNamespace(t, env, "outage-during", nil, nil) // directly, not through the proxy
	time.Sleep(5 * time.Second)                        // the outage itself, not an assertion
	if np := managed(t, env, "outage-during", managedName); np != nil {
		t.Fatal("protected while the controller could not reach the API server; the proxy does not cut it off")
	}
	proxy.setDown(false)
	waitManaged(t, env, "outage-during", managedName, emptySelector)
	createNamespace(t, env, "outage-after", nil, nil)
	waitManaged(t, env, "outage-after", managedName, emptySelector)
}
