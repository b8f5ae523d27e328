package proxy_test

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/proxy"
	"github.com/imdsguard/imdsguard/internal/proxy/proxytest"
)

// TestBypassCorpus sends every attack through the policy. A bypass is an
// allowed request that a lenient server would read as something other than
// the safe path the policy matched. The corpus is built so that all of it
// must be refused outright; the count of those is checked too, so a policy
// that stopped refusing would not pass by allowing "consistently". The
// server's tests send the same corpus over the wire.
func TestBypassCorpus(t *testing.T) {
	corpus, err := proxytest.Corpus("testdata/bypass.txt")
	if err != nil {
		t.Fatal(err)
	}
	policies := map[[2]any]*proxy.Policy{}
	bypasses, allowed := 0, 0
	for _, a := range corpus {
		key := [2]any{a.Flavour, a.RequireIMDSv2}
		p := policies[key]
		if p == nil {
			if p, err = proxy.New(proxy.Options{Flavour: a.Flavour, RequireIMDSv2: a.RequireIMDSv2}); err != nil {
				t.Fatal(err)
			}
			policies[key] = p
		}
		r := a.Request
		if err := proxy.CheckNoBypass(p, a.Flavour, a.RequireIMDSv2, r); err != nil {
			bypasses++
			t.Errorf("%s: %s %q (host %q, headers %v): BYPASS: %v", a.Origin, r.Method, r.Target, r.Host, r.Header, err)
		}
		if p.Decide(r, proxy.Allowance{}).Allowed {
			allowed++
			t.Errorf("%s: %s %q (host %q, headers %v) allowed; every attack must be refused", a.Origin, r.Method, r.Target, r.Host, r.Header)
		}
	}
	t.Logf("bypass corpus: %d requests, %d allowed, %d bypasses", len(corpus), allowed, bypasses)
	if len(corpus) < 3000 {
		t.Errorf("corpus has %d requests; the generator lost its mutations", len(corpus))
	}
}
