package manifest

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"

	"github.com/imdsguard/imdsguard/internal/model"
)

// Index is the first of two passes over the inputs, for scans too large to
// hold in memory at once. It reads and checks every document, exactly as
// Load does, but keeps only what is cluster-scoped (namespaces, nodes,
// admin policies, cluster-wide policy stubs, node settings), every input
// error, and which files hold the objects of which namespaces. The
// namespaced objects are dropped as soon as a file is read; Group reads them
// again, one group of files at a time.
type Index struct {
	// Result holds the cluster-scoped objects, every input error and the
	// namespaces seen. Its inventory has no workloads, NetworkPolicies,
	// ServiceAccounts or namespaced policy stubs.
	*Result
	// Groups partition the namespaces: files that hold objects of one
	// namespace are in the same group, and so are all the namespaces of
	// those files. Sorted by first namespace.
	Groups []Group
	inputs []input
	sums   []fileSum // what the first pass read of each input
	opts   Options
	spool  string // the copy of stdin, read again by Group
}

// Group is a set of namespaces whose objects are all in Files.
type Group struct {
	// Namespaces are sorted.
	Namespaces []string
	files      []int
}

// LoadIndex runs the first pass. Stdin is copied to a temporary file so
// that the second pass can read it again; Close removes it.
func LoadIndex(ctx context.Context, paths []string, opts Options) (*Index, error) {
	if opts.MaxDocumentBytes <= 0 {
		opts.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	inputs, skipped := expand(paths)
	ix := &Index{opts: opts, inputs: inputs, sums: make([]fileSum, len(inputs))}
	if i := slices.IndexFunc(inputs, func(in input) bool { return in.path == "-" }); i >= 0 {
		if err := ix.spoolStdin(&inputs[i]); err != nil {
			return nil, err
		}
	}
	files := make([]*collected, len(inputs))
	held := make([][]string, len(inputs)) // the namespaces of each file's objects
	entries := make([][]*workloadEntry, len(inputs))
	parallel(len(inputs), func(i int) {
		c := read(ctx, inputs[i], opts)
		held[i], entries[i] = c.dropNamespaced()
		files[i], ix.sums[i] = c, c.read
	})
	res := &Result{Inventory: model.NewInventory(), Skipped: skipped}
	for i, c := range files {
		if inputs[i].err == nil {
			res.Files = append(res.Files, inputs[i].name)
		}
		res.merge(c)
	}
	// Folding owners across files finds ownerReference cycles, which are
	// input errors: they must be known before anything is reported.
	var all []*workloadEntry
	for _, e := range entries {
		all = append(all, e...)
	}
	folded := &Result{Inventory: model.NewInventory()}
	folded.fold(all)
	res.Errors = append(res.Errors, folded.Errors...)
	for scope, why := range folded.Inventory.Incomplete {
		for _, w := range why {
			res.Inventory.MarkIncomplete(scope, w)
		}
	}
	sortErrors(res.Errors, inputs)
	ix.Result = res
	ix.Groups = groups(held, res.Inventory.NamespaceNames())
	return ix, ctx.Err()
}

// Close removes the copy of stdin, if any.
func (ix *Index) Close() error {
	if ix.spool == "" {
		return nil
	}
	return os.Remove(ix.spool)
}

func (ix *Index) spoolStdin(in *input) error {
	if ix.opts.Stdin == nil {
		return nil // read reports it
	}
	f, err := os.CreateTemp("", "imdsguard-stdin-*")
	if err != nil {
		return fmt.Errorf("copying stdin: %w", err)
	}
	ix.spool = f.Name()
	if _, err := io.Copy(f, ix.opts.Stdin); err != nil {
		_ = f.Close()
		return fmt.Errorf("copying stdin: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("copying stdin: %w", err)
	}
	in.path = ix.spool // the name stays stdin's
	return nil
}

// Group reads the files of g again and returns an inventory of the
// namespaced objects of g's namespaces, with the namespaces themselves (as
// the index has them) and nothing cluster-scoped. Input errors are the
// index's; they are not reported twice. A file that no longer holds what
// the first pass read is an error: its objects could not be evaluated.
func (ix *Index) Group(ctx context.Context, g Group) (*model.Inventory, error) {
	files := make([]*collected, len(g.files))
	parallel(len(g.files), func(i int) {
		files[i] = read(ctx, ix.inputs[g.files[i]], ix.opts)
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, c := range files {
		if in := g.files[i]; c.read != ix.sums[in] {
			return nil, fmt.Errorf("%s changed while it was being scanned (read twice, %d bytes then %d): scan it again",
				ix.inputs[in].name, ix.sums[in].size, c.read.size)
		}
	}
	inv := &model.Inventory{Namespaces: make(map[string]*model.Namespace, len(g.Namespaces)),
		UnknownKinds: map[string]int{}, Incomplete: map[string][]string{}}
	for _, ns := range g.Namespaces {
		inv.Namespaces[ns] = ix.Inventory.Namespaces[ns]
	}
	var entries []*workloadEntry
	for _, c := range files {
		entries = append(entries, c.workloads...)
		inv.NetworkPolicies = append(inv.NetworkPolicies, c.policies...)
		inv.ServiceAccounts = append(inv.ServiceAccounts, c.accounts...)
		for _, s := range c.stubs {
			if !s.ClusterScoped {
				inv.Unsupported = append(inv.Unsupported, s)
			}
		}
	}
	r := &Result{Inventory: inv}
	r.fold(entries)
	// What folding found (ownerReference cycles) the index found too.
	inv.Incomplete = ix.Inventory.Incomplete
	return inv, nil
}

// dropNamespaced removes the namespaced objects of a file, once read and
// checked, and returns their namespaces and, without their pod templates,
// the entries of the owned workloads, among which owner folding looks for
// cycles.
func (c *collected) dropNamespaced() ([]string, []*workloadEntry) {
	seen := map[string]bool{}
	for _, ns := range c.namespaces {
		seen[ns] = true
	}
	var light []*workloadEntry
	for _, e := range c.workloads {
		seen[e.w.Ref.Namespace] = true
		// Only owned objects can be part of an ownerReference cycle.
		if e.owner != nil {
			light = append(light, &workloadEntry{w: &model.Workload{Ref: e.w.Ref, Source: e.w.Source}, uid: e.uid, owner: e.owner})
		}
	}
	for _, p := range c.policies {
		seen[p.Ref.Namespace] = true
	}
	for _, a := range c.accounts {
		seen[a.Ref.Namespace] = true
	}
	c.stubs = slices.DeleteFunc(c.stubs, func(s *model.PolicyStub) bool {
		if !s.ClusterScoped {
			seen[s.Ref.Namespace] = true
		}
		return !s.ClusterScoped
	})
	c.workloads, c.policies, c.accounts = nil, nil, nil
	held := make([]string, 0, len(seen))
	for ns := range seen {
		held = append(held, ns)
	}
	return held, light
}

// groups joins files that share a namespace (union-find over namespaces),
// and gives every namespace no file holds objects of a group of its own.
func groups(held [][]string, namespaces []string) []Group {
	parent := map[string]string{}
	var find func(string) string
	find = func(s string) string {
		p, ok := parent[s]
		if !ok || p == s {
			parent[s] = s
			return s
		}
		r := find(p)
		parent[s] = r
		return r
	}
	for _, ns := range namespaces {
		find(ns)
	}
	for _, hs := range held {
		for _, ns := range hs[min(1, len(hs)):] {
			a, b := find(hs[0]), find(ns)
			if a != b {
				parent[max(a, b)] = min(a, b)
			}
		}
	}
	byRoot := map[string]*Group{}
	var out []*Group
	for _, ns := range namespaces {
		r := find(ns)
		g := byRoot[r]
		if g == nil {
			g = &Group{}
			byRoot[r] = g
			out = append(out, g)
		}
		g.Namespaces = append(g.Namespaces, ns)
	}
	for i, hs := range held {
		if len(hs) > 0 {
			g := byRoot[find(hs[0])]
			g.files = append(g.files, i)
		}
	}
	gs := make([]Group, len(out))
	for i, g := range out {
		gs[i] = *g
	}
	// namespaces are sorted, so groups already are by first namespace
	return gs
}

// sortErrors orders errors by input, then line, as Load does.
func sortErrors(errs []*InputError, inputs []input) {
	order := make(map[string]int, len(inputs))
	for i, in := range inputs {
		order[in.name] = i
	}
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i].Source, errs[j].Source
		if order[a.File] != order[b.File] {
			return order[a.File] < order[b.File]
		}
		return a.Line < b.Line
	})
}
