// Command perf measures the performance targets of docs/performance.md:
// scan time against a decode-only baseline, peak memory against input size,
// and cost per workload as the number of namespaces grows.
//
// Each measurement runs in a fresh child process (this binary with -child),
// alternating baseline and scan, so both see the same machine load; ratios
// are taken from medians within one run.
//
//	go run ./hack/perf -sizes 1000,5000,20000 -rounds 3
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/imdsguard/imdsguard/internal/report"
	"github.com/imdsguard/imdsguard/internal/rules"
	"github.com/imdsguard/imdsguard/internal/scan"
	"github.com/imdsguard/imdsguard/internal/synth"
)

func main() {
	child := flag.String("child", "", "internal: run one measurement (decode or scan) on -dir")
	dir := flag.String("dir", "", "internal: input directory for -child")
	sizes := flag.String("sizes", "1000,5000,20000", "namespace counts (10 workloads and 4 NetworkPolicies each)")
	rounds := flag.Int("rounds", 3, "alternating rounds per size; medians are reported")
	work := flag.String("workdir", filepath.Join(os.TempDir(), "imdsguard-perf"), "where generated clusters are cached")
	format := flag.String("format", "table", "report format the scan renders: table, json or sarif")
	byPhase := flag.Bool("phases", false, "instead: time each phase of a scan in one process, and the live heap each keeps")
	flag.Parse()
	if *child != "" {
		if err := runChild(*child, *dir, *format); err != nil {
			fmt.Fprintln(os.Stderr, "perf child:", err)
			os.Exit(1)
		}
		return
	}
	if *byPhase {
		if err := runPhases(*sizes, *work); err != nil {
			fmt.Fprintln(os.Stderr, "perf:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*sizes, *rounds, *work, *format); err != nil {
		fmt.Fprintln(os.Stderr, "perf:", err)
		os.Exit(1)
	}
}

func runChild(mode, dir, format string) error {
	switch mode {
	case "decode":
		_, err := synth.DecodeOnly(dir)
		return err
	case "scan":
		// What `imdsguard scan DIR` does: a streamed scan, one group of
		// namespaces at a time.
		plan, err := scan.Prepare(context.Background(), scan.Options{Paths: []string{dir}})
		if err != nil {
			return err
		}
		defer func() { _ = plan.Close() }()
		if len(plan.InputErrors) > 0 {
			return plan.InputErrors[0]
		}
		return plan.Render(context.Background(), io.Discard, report.Format(format), report.Options{}, func([]rules.Finding) {})
	case "scan-whole":
		// The scan held in memory at once, as live scans, HTML and Markdown
		// reports, generate and the controller use it.
		res, err := scan.Run(context.Background(), scan.Options{Paths: []string{dir}})
		if err != nil {
			return err
		}
		if len(res.InputErrors) > 0 {
			return res.InputErrors[0]
		}
		return report.Render(io.Discard, res.Document(), report.Format(format), report.Options{})
	}
	return fmt.Errorf("unknown mode %q", mode)
}

type sample struct {
	wall   time.Duration
	cpu    time.Duration // user + system: less sensitive than wall time to a busy machine
	maxRSS int64         // bytes
}

func run(sizeList string, rounds int, work, format string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("machine: %d CPUs, GOMAXPROCS %d, %s\n\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Println("| namespaces | workloads | policies | input MB | decode s | scan s | scan/decode | CPU scan/decode | peak RSS MB | RSS/input | scan µs/workload | scan CPU µs/workload | whole-scan RSS/input |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, f := range strings.Split(sizeList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("bad size %q", f)
		}
		dir := filepath.Join(work, "ns-"+strconv.Itoa(n))
		st, err := ensure(dir, n)
		if err != nil {
			return err
		}
		var dec, sc, whole []sample
		for range rounds {
			d, err := measure(self, "decode", dir, format)
			if err != nil {
				return err
			}
			s, err := measure(self, "scan", dir, format)
			if err != nil {
				return err
			}
			wh, err := measure(self, "scan-whole", dir, format)
			if err != nil {
				return err
			}
			dec, sc, whole = append(dec, d), append(sc, s), append(whole, wh)
		}
		md, ms, mw := median(dec), median(sc), median(whole)
		in := float64(st.Bytes)
		fmt.Printf("| %d | %d | %d | %.1f | %.2f | %.2f | %.2f | %.2f | %.1f | %.2f | %.1f | %.1f | %.2f |\n",
			n, st.Workloads, st.Policies, in/1e6, md.wall.Seconds(), ms.wall.Seconds(),
			ms.wall.Seconds()/md.wall.Seconds(), ms.cpu.Seconds()/md.cpu.Seconds(),
			float64(ms.maxRSS)/1e6, float64(ms.maxRSS)/in,
			float64(ms.wall.Microseconds())/float64(st.Workloads), float64(ms.cpu.Microseconds())/float64(st.Workloads),
			float64(mw.maxRSS)/in)
	}
	return nil
}

func ensure(dir string, n int) (synth.Stats, error) {
	spec := synth.Spec{Namespaces: n, WorkloadsPerNS: 10, PoliciesPerNS: 4, Seed: 1, NamespacesPerFile: 10}
	if err := os.RemoveAll(dir); err != nil {
		return synth.Stats{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return synth.Stats{}, err
	}
	return synth.Write(dir, spec)
}

func measure(self, mode, dir, format string) (sample, error) {
	cmd := exec.Command(self, "-child", mode, "-dir", dir, "-format", format)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("%s %s: %w", mode, dir, err)
	}
	wall := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return sample{wall: wall, cpu: cpu, maxRSS: ru.Maxrss * 1024}, nil
}

func median(s []sample) sample {
	walls := make([]time.Duration, len(s))
	cpus := make([]time.Duration, len(s))
	rss := make([]int64, len(s))
	for i := range s {
		walls[i], cpus[i], rss[i] = s[i].wall, s[i].cpu, s[i].maxRSS
	}
	slices.Sort(walls)
	slices.Sort(cpus)
	slices.Sort(rss)
	return sample{wall: walls[len(walls)/2], cpu: cpus[len(cpus)/2], maxRSS: rss[len(rss)/2]}
}

// runPhases prints the per-phase table of docs/performance.md.
func runPhases(sizeList, work string) error {
	fmt.Println("| workloads | load µs/wl | evaluate+rules µs/wl | document µs/wl | table µs/wl | inventory MB | analysis+findings MB | document MB | live MB |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, f := range strings.Split(sizeList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("bad size %q", f)
		}
		dir := filepath.Join(work, "ns-"+strconv.Itoa(n))
		if _, err := ensure(dir, n); err != nil {
			return err
		}
		if err := phases(dir); err != nil {
			return err
		}
	}
	return nil
}
