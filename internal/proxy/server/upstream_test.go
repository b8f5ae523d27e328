package server

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/imdsguard/imdsguard/internal/proxy"
)

// TestUpstreamConnections: connections are reused once a response is read
// to the end, and a pooled connection the service closed is replaced
// without failing the request.
func TestUpstreamConnections(t *testing.T) {
	var conns atomic.Int32
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "169.254.169.254" {
			t.Errorf("upstream Host %q", r.Host)
		}
		_, _ = io.WriteString(w, "ok")
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	defer up.Close()
	u, _ := url.Parse(up.URL)
	u.Host = "169.254.169.254"
	p, _ := proxy.New(proxy.Options{Flavour: proxy.FlavourAWS})
	h := New(p, WithUpstream(u))
	h.upAddr = up.Listener.Addr().String()
	front := serve(t, h)
	get := func() {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+front+"/latest/meta-data/instance-id", nil)
		req.Host = "169.254.169.254"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ok" {
			t.Fatalf("body %q", b)
		}
	}
	for range 3 {
		get()
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 3 sequential requests, want 1", n)
	}
	up.CloseClientConnections()
	get()
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections after the service closed the pooled one, want 2", n)
	}
}
