package manifest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/model"
)

// TestIndexAndGroupsMatchLoad reads every testdata file, valid and invalid,
// in one run, and again in two passes: the index's cluster-scoped objects
// and errors, with the namespaced objects its groups read again, are what
// Load reads, object for object (each namespace's objects in input order).
func TestIndexAndGroupsMatchLoad(t *testing.T) {
	files, _ := filepath.Glob("testdata/*")
	files = slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, ".golden") })
	// A List with objects of three namespaces joins them into one group; a
	// namespace spread over two files does not join the others of those
	// files.
	dir := t.TempDir()
	for name, body := range map[string]string{
		"x.yaml": "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ServiceAccount, metadata: {name: s, namespace: join-a}}\n" +
			"- {apiVersion: v1, kind: ServiceAccount, metadata: {name: s, namespace: join-c}}\n---\n" +
			"apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: s, namespace: alone-1}\n",
		"y.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: t, namespace: join-b}\n---\n" +
			"apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ServiceAccount, metadata: {name: t, namespace: join-c}}\n" +
			"- {apiVersion: v1, kind: ServiceAccount, metadata: {name: t, namespace: join-b}}\n---\n" +
			"apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: t, namespace: alone-1}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files = append(files, dir)
	whole, merged, groups := twoPasses(t, files, func() Options { return Options{} }, 0)
	var joined, alone bool
	for _, g := range groups {
		joined = joined || slices.Equal(g.Namespaces, []string{"join-a", "join-b", "join-c"})
		alone = alone || slices.Equal(g.Namespaces, []string{"alone-1"})
	}
	if !joined || !alone {
		t.Errorf("groups %v: want join-a, join-b and join-c together, and alone-1 alone", groups)
	}
	if diff := cmp.Diff(render(whole), render(merged)); diff != "" {
		t.Errorf("two passes differ from one (-one +two):\n%s", diff)
	}
	if len(whole.Errors) == 0 || len(whole.Inventory.Workloads) == 0 {
		t.Fatal("the testdata tests nothing")
	}
}

// twoPasses loads paths in one pass and in two (the index, then every
// group), and returns both, each namespace's objects in input order, and the
// groups. It fails the test if a group repeats a namespace or the groups
// miss one. opts is called once per pass (stdin is read in each); batch,
// if not zero, sets Index.BatchBytes.
func twoPasses(t *testing.T, paths []string, opts func() Options, batch int64) (whole, merged *Result, groups []Group) {
	t.Helper()
	whole = Load(context.Background(), paths, opts())
	ix, err := LoadIndex(context.Background(), paths, opts())
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if batch > 0 {
		ix.BatchBytes = batch
	}
	if n := len(ix.Inventory.Workloads) + len(ix.Inventory.NetworkPolicies) + len(ix.Inventory.ServiceAccounts); n != 0 {
		t.Fatalf("the index kept %d namespaced objects", n)
	}
	merged = &Result{}
	*merged = *ix.Result
	inv := *ix.Inventory
	merged.Inventory = &inv
	inv.Unsupported = slices.Clone(inv.Unsupported)
	inv.CalicoPolicies = slices.Clone(inv.CalicoPolicies)
	inv.CiliumPolicies = slices.Clone(inv.CiliumPolicies)
	seen := map[string]bool{}
	err = ix.Each(context.Background(), func(g Group, part *model.Inventory) error {
		for _, ns := range g.Namespaces {
			if seen[ns] {
				t.Errorf("namespace %s in two groups", ns)
			}
			seen[ns] = true
		}
		inv.Workloads = append(inv.Workloads, part.Workloads...)
		inv.NetworkPolicies = append(inv.NetworkPolicies, part.NetworkPolicies...)
		inv.ServiceAccounts = append(inv.ServiceAccounts, part.ServiceAccounts...)
		inv.Unsupported = append(inv.Unsupported, part.Unsupported...)
		inv.CalicoPolicies = append(inv.CalicoPolicies, part.CalicoPolicies...)
		inv.CiliumPolicies = append(inv.CiliumPolicies, part.CiliumPolicies...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(whole.Inventory.Namespaces) {
		t.Errorf("groups cover %d namespaces, want %d", len(seen), len(whole.Inventory.Namespaces))
	}
	byNamespace(whole.Inventory)
	byNamespace(merged.Inventory)
	return whole, merged, ix.Groups
}

// TestGroupRefusesAChangedFile: a file edited between the two passes is an
// error, never objects silently lost or added.
func TestGroupRefusesAChangedFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.yaml")
	write := func(body string) {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: s, namespace: a}\n")
	ix, err := LoadIndex(context.Background(), []string{p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	each := func() error {
		return ix.Each(context.Background(), func(Group, *model.Inventory) error { return nil })
	}
	if err := each(); err != nil {
		t.Fatalf("unchanged file: %v", err)
	}
	write("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: t, namespace: a}\n")
	if err := each(); err == nil || !strings.Contains(err.Error(), "changed while it was being scanned") {
		t.Fatalf("changed file: err = %v", err)
	}
}

// TestOneFileInBatches: one file holding many namespaces is read again in
// batches, each decoding only its own documents, and gives what one pass
// gives.
func TestOneFileInBatches(t *testing.T) {
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: s, namespace: ns-%02d}\n---\n", i)
		fmt.Fprintf(&b, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: ns-%02d}\n"+
			"spec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c, image: i}]}\n---\n", i)
	}
	p := filepath.Join(t.TempDir(), "all.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	reads, decoded := 0, 0
	defer func(orig func(context.Context, input, Options, *docHooks) *collected) { readInput = orig }(readInput)
	readInput = func(ctx context.Context, in input, o Options, h *docHooks) *collected {
		reads++
		want := h.want
		h.want = func(k int) bool {
			ok := want(k)
			if ok {
				decoded++
			}
			return ok
		}
		return read(ctx, in, o, h)
	}
	whole, merged, groups := twoPasses(t, []string{p}, func() Options { return Options{} }, int64(b.Len()/4))
	if diff := cmp.Diff(render(whole), render(merged)); diff != "" {
		t.Errorf("two passes differ from one (-one +two):\n%s", diff)
	}
	// A quarter of the file per batch, stretched by half to finish a file
	// the batch reads anyway: three reads.
	if len(groups) != 40 || reads != 3 || decoded != 80 {
		t.Errorf("%d groups, %d reads, %d documents decoded: want 40 groups, 3 reads, 80 documents", len(groups), reads, decoded)
	}
}

// byNamespace orders the namespaced objects by namespace, keeping input
// order within one; cluster-scoped ones, whose namespace is empty, come
// first.
func byNamespace(inv *model.Inventory) {
	sortByNamespace(inv.Workloads, func(w *model.Workload) model.ObjectRef { return w.Ref })
	sortByNamespace(inv.NetworkPolicies, func(p *model.NetworkPolicy) model.ObjectRef { return p.Ref })
	sortByNamespace(inv.ServiceAccounts, func(a *model.ServiceAccount) model.ObjectRef { return a.Ref })
	sortByNamespace(inv.CalicoPolicies, func(p *model.CalicoPolicy) model.ObjectRef { return p.Ref })
	sortByNamespace(inv.CiliumPolicies, func(p *model.CiliumPolicy) model.ObjectRef { return p.Ref })
	sortByNamespace(inv.Unsupported, func(s *model.PolicyStub) model.ObjectRef { return s.Ref })
}

func sortByNamespace[T any](objs []*T, ref func(*T) model.ObjectRef) {
	slices.SortStableFunc(objs, func(a, b *T) int { return strings.Compare(ref(a).Namespace, ref(b).Namespace) })
}

// TestIndexClassifiesEveryKind fails when a new kind of object is collected
// from a file without deciding whether the index keeps it (cluster-scoped)
// or a group reads it again (namespaced): dropNamespaced and Index.Group
// must both learn of it.
func TestIndexClassifiesEveryKind(t *testing.T) {
	known := map[string]string{
		"errs": "kept", "marks": "kept", "namespaces": "kept", "declared": "kept", "nodes": "kept",
		"admin": "kept", "unknown": "kept", "nodeConfigs": "kept", "nodeConfigGaps": "kept",
		"workloads": "group", "policies": "group", "accounts": "group", "stubs": "both (by ClusterScoped)", "read": "compared by Index.Each",
		"calico": "both (by Global)", "tiers": "kept", "cilium": "both (by Clusterwide)",
	}
	typ := reflect.TypeFor[collected]()
	for i := range typ.NumField() {
		if name := typ.Field(i).Name; known[name] == "" {
			t.Errorf("collected.%s: decide whether the index keeps it or Index.Group reads it again, then list it here", name)
		}
	}
}
