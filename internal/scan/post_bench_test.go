package scan

import (
	"context"
	"io"
	"testing"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/report"
	"github.com/imdsguard/imdsguard/internal/rules"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

// BenchmarkAfterLoad measures everything after loading (evaluation, rules,
// the report document and the table) on the 5,000-namespace cluster, to
// compare with BenchmarkScan5k's decode baseline.
func BenchmarkAfterLoad(b *testing.B) {
	dir := benchCluster(b, 5000)
	l := manifest.Load(context.Background(), []string{dir}, manifest.Options{})
	targets := reach.Targets(endpoints.ForClouds())
	keep := reach.Targets(endpoints.KeepOpen())
	b.ResetTimer()
	for b.Loop() {
		a := reach.Evaluate(l.Inventory, targets)
		reg := rules.Default()
		fs := reg.Run(&rules.Context{Inventory: l.Inventory, Analysis: a, KeepOpen: keep})
		res := &Result{Inventory: l.Inventory, Analysis: a, Findings: fs, Registry: reg}
		if err := report.Render(io.Discard, res.Document(), report.FormatTable, report.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
