package proxy

import "testing"

// BenchmarkDecide measures one decision on a safe path (docs/performance.md).
func BenchmarkDecide(b *testing.B) {
	p := mustPolicy(b, Options{Flavour: FlavourAWS})
	r := req("GET", "/latest/meta-data/instance-id", "User-Agent", "curl/8", "Accept", "*/*")
	b.ReportAllocs()
	for b.Loop() {
		if !p.Decide(r, Allowance{}).Allowed {
			b.Fatal("refused")
		}
	}
}
