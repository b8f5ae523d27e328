package manifest

import (
	"context"
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
	// One namespace spread over two files, with another in one of them,
	// joins three namespaces into one group.
	dir := t.TempDir()
	for name, body := range map[string]string{
		"x.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: s, namespace: join-a}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: s, namespace: join-b}\n",
		"y.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: t, namespace: join-b}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: t, namespace: join-c}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files = append(files, dir)
	whole, merged, groups := twoPasses(t, files, func() Options { return Options{} })
	joined := false
	for _, g := range groups {
		if slices.Equal(g.Namespaces, []string{"join-a", "join-b", "join-c"}) {
			joined = true
		}
	}
	if !joined {
		t.Errorf("groups %v: want join-a, join-b and join-c together", groups)
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
// miss one. opts is called once per pass (stdin is read in each).
func twoPasses(t *testing.T, paths []string, opts func() Options) (whole, merged *Result, groups []Group) {
	t.Helper()
	whole = Load(context.Background(), paths, opts())
	ix, err := LoadIndex(context.Background(), paths, opts())
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if n := len(ix.Inventory.Workloads) + len(ix.Inventory.NetworkPolicies) + len(ix.Inventory.ServiceAccounts); n != 0 {
		t.Fatalf("the index kept %d namespaced objects", n)
	}
	merged = &Result{}
	*merged = *ix.Result
	inv := *ix.Inventory
	merged.Inventory = &inv
	inv.Unsupported = slices.Clone(inv.Unsupported)
	seen := map[string]bool{}
	for _, g := range ix.Groups {
		part, err := ix.Group(context.Background(), g)
		if err != nil {
			t.Fatal(err)
		}
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
	if _, err := ix.Group(context.Background(), ix.Groups[0]); err != nil {
		t.Fatalf("unchanged file: %v", err)
	}
	write("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: t, namespace: a}\n")
	if _, err := ix.Group(context.Background(), ix.Groups[0]); err == nil || !strings.Contains(err.Error(), "changed while it was being scanned") {
		t.Fatalf("changed file: err = %v", err)
	}
}

// byNamespace orders the namespaced objects by namespace, keeping input
// order within one, and the cluster-scoped stubs first.
func byNamespace(inv *model.Inventory) {
	slices.SortStableFunc(inv.Workloads, func(a, b *model.Workload) int { return strings.Compare(a.Ref.Namespace, b.Ref.Namespace) })
	slices.SortStableFunc(inv.NetworkPolicies, func(a, b *model.NetworkPolicy) int { return strings.Compare(a.Ref.Namespace, b.Ref.Namespace) })
	slices.SortStableFunc(inv.ServiceAccounts, func(a, b *model.ServiceAccount) int { return strings.Compare(a.Ref.Namespace, b.Ref.Namespace) })
	slices.SortStableFunc(inv.Unsupported, func(a, b *model.PolicyStub) int {
		if a.ClusterScoped != b.ClusterScoped {
			if a.ClusterScoped {
				return -1
			}
			return 1
		}
		if a.ClusterScoped {
			return 0
		}
		return strings.Compare(a.Ref.Namespace, b.Ref.Namespace)
	})
}

// TestIndexClassifiesEveryKind fails when a new kind of object is collected
// from a file without deciding whether the index keeps it (cluster-scoped)
// or a group reads it again (namespaced): dropNamespaced and Index.Group
// must both learn of it.
func TestIndexClassifiesEveryKind(t *testing.T) {
	known := map[string]string{
		"errs": "kept", "marks": "kept", "namespaces": "kept", "declared": "kept", "nodes": "kept",
		"admin": "kept", "unknown": "kept", "nodeConfigs": "kept", "nodeConfigGaps": "kept",
		"workloads": "group", "policies": "group", "accounts": "group", "stubs": "both (by ClusterScoped)", "read": "compared by Index.Group",
	}
	typ := reflect.TypeFor[collected]()
	for i := range typ.NumField() {
		if name := typ.Field(i).Name; known[name] == "" {
			t.Errorf("collected.%s: decide whether the index keeps it or Index.Group reads it again, then list it here", name)
		}
	}
}
