package manifest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"

	"github.com/imdsguard/imdsguard/internal/model"
)

// Index is the first of two passes over the inputs, for scans too large to
// hold in memory at once. It reads and checks every document, exactly as
// Load does, but keeps only what is cluster-scoped (namespaces, nodes,
// admin policies, cluster-wide policy stubs, node settings), every input
// error, and which documents hold objects of which namespaces. The
// namespaced objects are dropped document by document; Each reads them
// again, a batch of groups at a time.
type Index struct {
	// Result holds the cluster-scoped objects, every input error and the
	// namespaces seen. Its inventory has no workloads, NetworkPolicies,
	// ServiceAccounts or namespaced policy stubs.
	*Result
	// Groups partition the namespaces: the namespaces of one document (a
	// List may hold several) are in the same group. Sorted by first
	// namespace.
	Groups []Group
	// BatchBytes bounds the documents read again at once (Each). LoadIndex
	// sets it to a sixteenth of the input, but at least a quarter of the
	// largest file (each batch reads its files whole, so one large file is
	// then read four times, not sixteen) and at least 1 MiB.
	BatchBytes int64
	inputs     []input
	sums       []fileSum // what the first pass read of each input
	opts       Options
	spool      string // the copy of stdin, read again by Each
}

// Group is a set of namespaces whose objects are all in docs.
type Group struct {
	// Namespaces are sorted.
	Namespaces []string
	docs       []docRef
	bytes      int64
}

// docRef is document k of input file.
type docRef struct{ file, k int }

// docInfo is what the index keeps of a document with namespaced objects.
type docInfo struct {
	k          int
	size       int64
	namespaces []string
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
	docs := make([][]docInfo, len(inputs))
	entries := make([][]*workloadEntry, len(inputs))
	parallel(len(inputs), func(i int) {
		seen := map[string]bool{}
		c := read(ctx, inputs[i], opts, &docHooks{after: func(k int, size int64, c *collected) {
			// Keep the document's namespaces, drop its namespaced objects.
			ns := uniqueStrings(c.namespaces)
			if len(ns) > 0 {
				docs[i] = append(docs[i], docInfo{k: k, size: size, namespaces: ns})
			}
			for _, n := range ns {
				seen[n] = true
			}
			clear(c.namespaces)
			c.namespaces = c.namespaces[:0]
			entries[i] = c.dropNamespaced(entries[i])
		}})
		for n := range seen {
			c.namespaces = append(c.namespaces, n)
		}
		files[i], ix.sums[i] = c, c.read
	})
	res := &Result{Inventory: model.NewInventory(), Skipped: skipped}
	var total, largest int64
	for i, c := range files {
		if inputs[i].err == nil {
			res.Files = append(res.Files, inputs[i].name)
		}
		res.merge(c)
		total += c.read.size
		largest = max(largest, c.read.size)
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
	ix.Groups = groups(docs, res.Inventory.NamespaceNames())
	ix.BatchBytes = max(1<<20, total/16, largest/4)
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
	_, err = io.Copy(f, ix.opts.Stdin)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("copying stdin: %w", err)
	}
	ix.spool = f.Name()
	in.path = ix.spool // the name stays stdin's
	return nil
}

// Each reads the namespaced objects again and calls fn with every group, in
// order: an inventory of the group's namespaces (as the index has them) and
// their namespaced objects, and nothing cluster-scoped. Groups are read in
// batches of about BatchBytes of documents (up to half again as much to finish the
// files a batch reads); each file is read whole once per batch that needs
// it, and only the documents the batch needs are decoded. Input errors are the index's; they are not reported twice. A
// file that no longer holds what the first pass read is an error: its
// objects could not be evaluated.
func (ix *Index) Each(ctx context.Context, fn func(Group, *model.Inventory) error) error {
	for first := 0; first < len(ix.Groups); {
		last, size := first, int64(0)
		files := map[int]bool{}
		for last < len(ix.Groups) {
			g := &ix.Groups[last]
			// Past the budget, a group whose documents are all in files the
			// batch reads anyway still joins it, up to half again the budget, so
			// that a file is not read again for the next batch.
			fits := last == first || size+g.bytes <= ix.BatchBytes ||
				size+g.bytes <= ix.BatchBytes*3/2 && !slices.ContainsFunc(g.docs, func(d docRef) bool { return !files[d.file] })
			if !fits {
				break
			}
			for _, d := range g.docs {
				files[d.file] = true
			}
			size += g.bytes
			last++
		}
		invs, err := ix.readBatch(ctx, ix.Groups[first:last])
		if err != nil {
			return err
		}
		for i, g := range ix.Groups[first:last] {
			if err := fn(g, invs[i]); err != nil {
				return err
			}
			invs[i] = nil // done with it
		}
		first = last
	}
	return nil
}

// readBatch reads the documents of a batch of groups and returns each
// group's inventory.
func (ix *Index) readBatch(ctx context.Context, batch []Group) ([]*model.Inventory, error) {
	want := map[int]map[int]bool{}
	owner := map[string]int{} // namespace -> group in batch
	for gi, g := range batch {
		for _, ns := range g.Namespaces {
			owner[ns] = gi
		}
		for _, d := range g.docs {
			if want[d.file] == nil {
				want[d.file] = map[int]bool{}
			}
			want[d.file][d.k] = true
		}
	}
	files := slices.Sorted(maps.Keys(want))
	read := make([]*collected, len(files))
	parallel(len(files), func(i int) {
		w := want[files[i]]
		read[i] = readInput(ctx, ix.inputs[files[i]], ix.opts, &docHooks{want: func(k int) bool { return w[k] }})
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	invs := make([]*model.Inventory, len(batch))
	entries := make([][]*workloadEntry, len(batch))
	for gi, g := range batch {
		inv := &model.Inventory{Namespaces: make(map[string]*model.Namespace, len(g.Namespaces)),
			UnknownKinds: map[string]int{}, Incomplete: map[string][]string{}}
		for _, ns := range g.Namespaces {
			inv.Namespaces[ns] = ix.Inventory.Namespaces[ns]
		}
		invs[gi] = inv
	}
	for i, c := range read {
		if in := files[i]; c.read != ix.sums[in] {
			return nil, fmt.Errorf("%s changed while it was being scanned (read twice, %d bytes then %d): scan it again",
				ix.inputs[in].name, ix.sums[in].size, c.read.size)
		}
		var missing string
		group := func(ns string) int {
			gi, ok := owner[ns]
			if !ok {
				missing = ns
			}
			return gi
		}
		for _, e := range c.workloads {
			gi := group(e.w.Ref.Namespace)
			entries[gi] = append(entries[gi], e)
		}
		for _, p := range c.policies {
			inv := invs[group(p.Ref.Namespace)]
			inv.NetworkPolicies = append(inv.NetworkPolicies, p)
		}
		for _, a := range c.accounts {
			inv := invs[group(a.Ref.Namespace)]
			inv.ServiceAccounts = append(inv.ServiceAccounts, a)
		}
		for _, st := range c.stubs {
			if !st.ClusterScoped {
				inv := invs[group(st.Ref.Namespace)]
				inv.Unsupported = append(inv.Unsupported, st)
			}
		}
		for _, p := range c.calico {
			if !p.Global {
				inv := invs[group(p.Ref.Namespace)]
				inv.CalicoPolicies = append(inv.CalicoPolicies, p)
			}
		}
		for _, p := range c.cilium {
			if !p.Clusterwide {
				inv := invs[group(p.Ref.Namespace)]
				inv.CiliumPolicies = append(inv.CiliumPolicies, p)
			}
		}
		if missing != "" {
			return nil, fmt.Errorf("%s: the second read found objects of namespace %q, which the first did not place", ix.inputs[files[i]].name, missing)
		}
	}
	for gi, inv := range invs {
		r := &Result{Inventory: inv}
		r.fold(entries[gi])
		// What folding found (ownerReference cycles) the index found too.
		inv.Incomplete = ix.Inventory.Incomplete
	}
	return invs, nil
}

// readInput is read; a variable so that a test can count the reads.
var readInput = read

// dropNamespaced removes the namespaced objects read so far, once read and
// checked, and appends to light the entries of the owned workloads among
// them, without their pod templates: owner folding looks for cycles among
// them.
func (c *collected) dropNamespaced(light []*workloadEntry) []*workloadEntry {
	for _, e := range c.workloads {
		// Only owned objects can be part of an ownerReference cycle.
		if e.owner != nil {
			light = append(light, &workloadEntry{w: &model.Workload{Ref: e.w.Ref, Source: e.w.Source}, uid: e.uid, owner: e.owner})
		}
	}
	c.stubs = slices.DeleteFunc(c.stubs, func(s *model.PolicyStub) bool { return !s.ClusterScoped })
	c.calico = slices.DeleteFunc(c.calico, func(p *model.CalicoPolicy) bool { return !p.Global })
	c.cilium = slices.DeleteFunc(c.cilium, func(p *model.CiliumPolicy) bool { return !p.Clusterwide })
	clear(c.workloads)
	clear(c.policies)
	clear(c.accounts)
	c.workloads, c.policies, c.accounts = c.workloads[:0], c.policies[:0], c.accounts[:0]
	return light
}

// uniqueStrings returns the distinct strings of s, sorted.
func uniqueStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// groups joins the namespaces of each document (union-find), gives every
// namespace no document holds objects of a group of its own, and lists
// each group's documents.
func groups(docs [][]docInfo, namespaces []string) []Group {
	parent := make(map[string]string, len(namespaces))
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
	for _, file := range docs {
		for _, d := range file {
			for _, ns := range d.namespaces[1:] {
				a, b := find(d.namespaces[0]), find(ns)
				if a != b {
					parent[max(a, b)] = min(a, b)
				}
			}
		}
	}
	byRoot := map[string]int{}
	var out []Group
	for _, ns := range namespaces { // sorted, so groups are by first namespace
		r := find(ns)
		gi, ok := byRoot[r]
		if !ok {
			gi = len(out)
			byRoot[r] = gi
			out = append(out, Group{})
		}
		out[gi].Namespaces = append(out[gi].Namespaces, ns)
	}
	for f, file := range docs {
		for _, d := range file {
			g := &out[byRoot[find(d.namespaces[0])]]
			g.docs = append(g.docs, docRef{file: f, k: d.k})
			g.bytes += d.size
		}
	}
	return out
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
