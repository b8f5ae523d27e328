package scan

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/imdsguard/imdsguard/internal/report"
	"github.com/imdsguard/imdsguard/internal/rules"
	"github.com/imdsguard/imdsguard/internal/synth"
)

// benchCluster generates (once per size) a synthetic cluster with the given
// number of namespaces, 10 workloads and 4 NetworkPolicies each.
func benchCluster(b *testing.B, namespaces int) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), "imdsguard-bench", "ns-"+itoa(namespaces))
	if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
		return dir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if _, err := synth.Write(dir, synth.Spec{Namespaces: namespaces, WorkloadsPerNS: 10, PoliciesPerNS: 4, Seed: 1, NamespacesPerFile: 10}); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "done"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

func itoa(n int) string { return strconv.Itoa(n) }

func scanOnce(dir string) error {
	res, err := Run(context.Background(), Options{Paths: []string{dir}})
	if err != nil {
		return err
	}
	if len(res.InputErrors) > 0 {
		return res.InputErrors[0]
	}
	return report.Render(io.Discard, res.Document(), report.Format("table"), report.Options{})
}

// streamOnce is what `imdsguard scan DIR` does: two passes, one group of
// namespaces at a time.
func streamOnce(dir string) error {
	plan, err := Prepare(context.Background(), Options{Paths: []string{dir}})
	if err != nil {
		return err
	}
	defer func() { _ = plan.Close() }()
	if len(plan.InputErrors) > 0 {
		return plan.InputErrors[0]
	}
	return plan.Render(context.Background(), io.Discard, report.FormatTable, report.Options{}, func([]rules.Finding) {})
}

func benchmarkPair(b *testing.B, namespaces int) {
	dir := benchCluster(b, namespaces)
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := synth.DecodeOnly(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range []struct {
		name string
		scan func(string) error
	}{{"scan", streamOnce}, {"scan-whole", scanOnce}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.scan(dir); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(namespaces*10), "ns/workload")
		})
	}
}

// BenchmarkScan5k is the headline case: 5,000 namespaces, 50,000 workloads
// and 20,000 NetworkPolicies. Compare scan with decode, measured in one run.
func BenchmarkScan5k(b *testing.B) { benchmarkPair(b, 5000) }

// BenchmarkScale shows the cost per workload as namespaces grow.
func BenchmarkScale(b *testing.B) {
	for _, n := range []int{1000, 5000, 20000} {
		b.Run("ns="+itoa(n), func(b *testing.B) { benchmarkPair(b, n) })
	}
}
