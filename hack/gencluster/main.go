// Command gencluster writes a deterministic synthetic cluster as manifests,
// for benchmarks: go run ./hack/gencluster -namespaces 5000 -out /tmp/c
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/imdsguard/imdsguard/internal/synth"
)

func main() {
	var s synth.Spec
	out := flag.String("out", "", "output directory (created)")
	flag.IntVar(&s.Namespaces, "namespaces", 5000, "namespaces")
	flag.IntVar(&s.WorkloadsPerNS, "workloads-per-ns", 10, "workloads per namespace")
	flag.IntVar(&s.PoliciesPerNS, "policies-per-ns", 4, "NetworkPolicies per namespace")
	flag.IntVar(&s.NamespacesPerFile, "namespaces-per-file", 10, "namespaces per file")
	flag.Uint64Var(&s.Seed, "seed", 1, "random seed")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "gencluster: -out is required")
		os.Exit(2)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "gencluster:", err)
		os.Exit(1)
	}
	st, err := synth.Write(*out, s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gencluster:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %d files, %d workloads, %d policies, %d bytes\n", st.Files, st.Workloads, st.Policies, st.Bytes)
}
