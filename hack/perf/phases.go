package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/report"
	"github.com/imdsguard/imdsguard/internal/rules"
	"github.com/imdsguard/imdsguard/internal/scan"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

// phases measures, in this process, where a scan of dir spends its time and
// what each phase keeps live: loading, evaluation plus every rule (best of
// three), the report document and the table. Live heap is read after a
// collection at the end of each phase.
func phases(dir string) error {
	live := func() float64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return float64(m.HeapAlloc) / 1e6
	}
	base := live()
	t0 := time.Now()
	l := manifest.Load(context.Background(), []string{dir}, manifest.Options{})
	load := time.Since(t0)
	if len(l.Errors) > 0 {
		return l.Errors[0]
	}
	afterLoad := live()
	targets := reach.Targets(endpoints.ForClouds())
	keep := reach.Targets(endpoints.KeepOpen())
	var a *reach.Analysis
	var fs []rules.Finding
	best := time.Duration(1<<63 - 1)
	for range 3 {
		a, fs = nil, nil
		runtime.GC()
		t := time.Now()
		a = reach.Evaluate(l.Inventory, targets)
		fs = rules.Default().Run(&rules.Context{Inventory: l.Inventory, Analysis: a, KeepOpen: keep})
		best = min(best, time.Since(t))
	}
	afterEval := live()
	res := &scan.Result{Inventory: l.Inventory, Analysis: a, Findings: fs, Registry: rules.Default()}
	t1 := time.Now()
	d := res.Document()
	doc := time.Since(t1)
	afterDoc := live()
	t2 := time.Now()
	if err := report.Render(io.Discard, d, report.FormatTable, report.Options{}); err != nil {
		return err
	}
	render := time.Since(t2)
	n := float64(len(l.Inventory.Workloads))
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / n }
	fmt.Printf("| %d | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f | %.0f | %.0f |\n", len(l.Inventory.Workloads),
		us(load), us(best), us(doc), us(render), afterLoad-base, afterEval-afterLoad, afterDoc-afterEval, afterDoc-base)
	runtime.KeepAlive(d)
	runtime.KeepAlive(res)
	return nil
}
