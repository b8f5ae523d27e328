package manifest

import (
	"context"
	"io"
	"runtime"
	"sync"

	"github.com/imdsguard/imdsguard/internal/model"
)

// DefaultMaxDocumentBytes is the largest YAML document read when
// Options.MaxDocumentBytes is zero.
const DefaultMaxDocumentBytes = 32 << 20

// Options tune Load.
type Options struct {
	// MaxDocumentBytes is the largest document accepted; a larger one is an
	// input error, found without holding more than this in memory. Zero
	// means DefaultMaxDocumentBytes.
	MaxDocumentBytes int64
	// Stdin is read for the path "-".
	Stdin io.Reader
	// yamlOnly decodes every document with yaml.v3, for the differential
	// test of the subset parser.
	yamlOnly bool
}

// Result is what Load read.
type Result struct {
	Inventory *model.Inventory
	// Errors lists every input problem, by file (in the order read) and line.
	Errors []*InputError
	// Files are the files read, in order.
	Files []string
	// Skipped are the files passed over while walking directories.
	Skipped []string
	// Unknown are the objects of kinds that play no part in the verdict.
	Unknown []UnknownObject
}

// Load reads manifests from files, directories (walked for *.yaml, *.yml
// and *.json) and "-" (stdin). Files are read in parallel and merged in the
// order given, so the result does not depend on scheduling. Problems never
// stop the load: they are returned in Result.Errors, and the scopes they
// affect are marked incomplete in the inventory.
func Load(ctx context.Context, paths []string, opts Options) *Result {
	if opts.MaxDocumentBytes <= 0 {
		opts.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	inputs, skipped := expand(paths)
	files := readAll(ctx, inputs, opts)
	res := &Result{Inventory: model.NewInventory(), Skipped: skipped}
	var entries []*workloadEntry
	for i, c := range files {
		if inputs[i].err == nil {
			res.Files = append(res.Files, inputs[i].name)
		}
		res.merge(c)
		entries = append(entries, c.workloads...)
	}
	res.fold(entries)
	sortErrors(res.Errors, inputs)
	return res
}

// readAll reads the inputs with GOMAXPROCS workers.
func readAll(ctx context.Context, inputs []input, opts Options) []*collected {
	out := make([]*collected, len(inputs))
	parallel(len(inputs), func(i int) { out[i] = read(ctx, inputs[i], opts, nil) })
	return out
}

// parallel runs fn(0) .. fn(n-1) on GOMAXPROCS workers.
func parallel(n int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// merge adds one file's objects to the inventory. Workloads are added
// later, once owners are known.
func (r *Result) merge(c *collected) {
	inv := r.Inventory
	r.Errors = append(r.Errors, c.errs...)
	for _, m := range c.marks {
		inv.MarkIncomplete(m.scope, m.why)
	}
	for _, ns := range c.namespaces {
		inv.Namespace(ns)
	}
	for _, d := range c.declared {
		*inv.Namespace(d.Name) = *d
	}
	inv.NetworkPolicies = append(inv.NetworkPolicies, c.policies...)
	inv.ServiceAccounts = append(inv.ServiceAccounts, c.accounts...)
	inv.Nodes = append(inv.Nodes, c.nodes...)
	inv.Unsupported = append(inv.Unsupported, c.stubs...)
	inv.AdminPolicies = append(inv.AdminPolicies, c.admin...)
	inv.CiliumPolicies = append(inv.CiliumPolicies, c.cilium...)
	inv.CalicoPolicies = append(inv.CalicoPolicies, c.calico...)
	inv.CalicoTiers = append(inv.CalicoTiers, c.tiers...)
	inv.NodeConfigs = append(inv.NodeConfigs, c.nodeConfigs...)
	inv.NodeConfigGaps = append(inv.NodeConfigGaps, c.nodeConfigGaps...)
	for _, u := range c.unknown {
		inv.UnknownKinds[u.Ref.APIVersion+"/"+u.Ref.Kind]++
	}
	r.Unknown = append(r.Unknown, c.unknown...)
}
