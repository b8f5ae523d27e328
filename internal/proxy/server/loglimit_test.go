package server

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imdsguard/imdsguard/internal/proxy"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

// TestRefusalLogBounded: a flood of refused requests from one source writes
// at most the burst of log lines per window, every refusal is still
// counted, and the next line says how many were left out.
func TestRefusalLogBounded(t *testing.T) {
	p, err := proxy.New(proxy.Options{Flavour: proxy.FlavourAWS})
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	buf := &testenv.Buffer{}
	h := New(p, WithUpstream(&url.URL{Scheme: "http", Host: "127.0.0.1:1"}), WithMetrics(m),
		WithLogger(logr.FromSlogHandler(slog.NewJSONHandler(buf, nil))))
	h.refusalLog.window = 300 * time.Millisecond
	c := dialProxy(t, serve(t, h))
	refuse := func(n int) {
		t.Helper()
		c.write(strings.Repeat(request("GET", userData), n))
		for range n {
			resp, _ := c.read("GET")
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d", resp.StatusCode)
			}
		}
	}
	lines := func() []string {
		var out []string
		for _, l := range strings.Split(buf.String(), "\n") {
			if strings.Contains(l, `"msg":"refused metadata request"`) {
				out = append(out, l)
			}
		}
		return out
	}
	refuse(50)
	if n := len(lines()); n != refusalLogBurst {
		t.Fatalf("%d refusal lines for 50 refusals in one window, want %d", n, refusalLogBurst)
	}
	if got := testutil.ToFloat64(m.Refusals.WithLabelValues(string(proxy.RuleAWSUserData), "")); got != 50 {
		t.Fatalf("refusals counted: %v, want 50", got)
	}
	time.Sleep(400 * time.Millisecond)
	refuse(1)
	all := lines()
	if len(all) != refusalLogBurst+1 || !strings.Contains(all[len(all)-1], `"notLoggedBefore":40`) {
		t.Fatalf("after the window, want one more line saying 40 were not logged; got %d lines, last %q", len(all), all[len(all)-1])
	}
}
