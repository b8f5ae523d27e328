// Package synth generates deterministic synthetic clusters as manifest files,
// for benchmarks and scale tests.
package synth

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Spec sizes a synthetic cluster.
type Spec struct {
	Namespaces        int
	WorkloadsPerNS    int
	PoliciesPerNS     int
	Seed              uint64
	NamespacesPerFile int
}

// Stats describes what was written.
type Stats struct {
	Files, Workloads, Policies int
	Bytes                      int64
}

// Write generates the cluster into dir, one file per group of namespaces.
// The same Spec always produces the same bytes.
func Write(dir string, s Spec) (Stats, error) {
	if s.NamespacesPerFile <= 0 {
		s.NamespacesPerFile = 1
	}
	var st Stats
	for first := 0; first < s.Namespaces; first += s.NamespacesPerFile {
		name := filepath.Join(dir, fmt.Sprintf("ns-%06d.yaml", first))
		n, err := writeFile(name, s, first, min(first+s.NamespacesPerFile, s.Namespaces), &st)
		if err != nil {
			return st, err
		}
		st.Files++
		st.Bytes += n
	}
	return st, nil
}

func writeFile(name string, s Spec, from, to int, st *Stats) (int64, error) {
	f, err := os.Create(name)
	if err != nil {
		return 0, err
	}
	w := &countingWriter{w: bufio.NewWriterSize(f, 1<<16)}
	for i := from; i < to; i++ {
		r := rand.New(rand.NewPCG(s.Seed, uint64(i)))
		g := &gen{w: w, r: r, ns: fmt.Sprintf("team-%05d", i)}
		g.namespace()
		for j := 0; j < s.WorkloadsPerNS; j++ {
			g.workload(j)
			st.Workloads++
		}
		for j := 0; j < s.PoliciesPerNS; j++ {
			g.policy(j, s.WorkloadsPerNS)
			st.Policies++
		}
	}
	if err := w.w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	return w.n, f.Close()
}

type countingWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countingWriter) printf(format string, a ...any) {
	n, _ := fmt.Fprintf(c.w, format, a...)
	c.n += int64(n)
}
