package manifest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func sa(name string) string {
	return "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: " + name + ", namespace: walk}\n"
}

func TestInputs(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"b.yaml":             sa("b"),
		"a.yml":              sa("a"),
		"sub/c.json":         `{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "c", "namespace": "walk"}}`,
		"sub/README.md":      "not yaml",
		".git/config.yaml":   sa("hidden-dir"),
		".hidden.yaml":       sa("hidden-file"),
		"explicit/notes.txt": sa("explicit"),
	})
	in := func(p string) string { return filepath.Join(dir, p) }
	res := Load(context.Background(), []string{dir, in("explicit/notes.txt"), in("missing.yaml"), "-", in("b.yaml")},
		Options{Stdin: strings.NewReader(sa("stdin"))})

	var names []string
	for _, s := range res.Inventory.ServiceAccounts {
		names = append(names, s.Ref.Name+"@"+strings.TrimPrefix(s.Source.String(), dir+"/"))
	}
	want := []string{"a@a.yml:1", "b@b.yaml:1", "c@sub/c.json:1", "explicit@explicit/notes.txt:1", "stdin@<stdin>:1"}
	if diff := cmp.Diff(names, want); diff != "" {
		t.Errorf("service accounts (-got +want):\n%s", diff)
	}
	wantFiles := []string{in("a.yml"), in("b.yaml"), in("sub/c.json"), in("explicit/notes.txt"), stdinName}
	if diff := cmp.Diff(res.Files, wantFiles); diff != "" {
		t.Errorf("files (-got +want):\n%s", diff)
	}
	wantSkipped := []string{in(".hidden.yaml"), in("sub/README.md")}
	if diff := cmp.Diff(res.Skipped, wantSkipped); diff != "" {
		t.Errorf("skipped (-got +want):\n%s", diff)
	}
	if len(res.Errors) != 1 || res.Errors[0].Error() != in("missing.yaml")+": cannot read: no such file or directory" {
		t.Errorf("errors: %v", res.Errors)
	}
	if _, ok := res.Inventory.Incomplete[""]; !ok {
		t.Errorf("a missing file must make the inventory incomplete")
	}
}

// TestDeterministic loads many files in parallel and expects the same
// result, with errors ordered by file and then line, every time.
func TestDeterministic(t *testing.T) {
	files := map[string]string{}
	for i := range 40 {
		name := filepath.Join("d", string(rune('a'+i%26))+strings.Repeat("x", i/26)+".yaml")
		files[name] = sa(name) + "---\nkind: Broken\n---\n" + sa(name+"-2") + "---\nbad: [\n"
	}
	dir := writeFiles(t, files)
	first := render(Load(context.Background(), []string{filepath.Join(dir, "d")}, Options{}))
	for range 5 {
		if got := render(Load(context.Background(), []string{filepath.Join(dir, "d")}, Options{})); got != first {
			t.Fatalf("results differ between runs:\n%s", cmp.Diff(got, first))
		}
	}
	res := Load(context.Background(), []string{filepath.Join(dir, "d")}, Options{})
	for i := 1; i < len(res.Errors); i++ {
		a, b := res.Errors[i-1].Source, res.Errors[i].Source
		if a.File > b.File || a.File == b.File && a.Line > b.Line {
			t.Errorf("errors out of order: %s before %s", a, b)
		}
	}
	if len(res.Errors) != 80 {
		t.Errorf("want 80 errors, got %d", len(res.Errors))
	}
}

func TestInputErrorFormat(t *testing.T) {
	tests := []struct {
		err  InputError
		want string
	}{
		{InputError{Msg: "m"}, "<unknown>: m"},
		{InputError{Source: srcAt("f.yaml", 0), Msg: "m"}, "f.yaml: m"},
		{InputError{Source: srcAt("f.yaml", 3), Msg: "m"}, "f.yaml:3: m"},
		{InputError{Source: srcAt("f.yaml", 3), Object: ref("NetworkPolicy", "ns", "x"), Msg: "m"}, "f.yaml:3: NetworkPolicy ns/x: m"},
		{InputError{Source: srcAt("f.yaml", 3), Object: ref("Node", "", "n1"), Msg: "m"}, "f.yaml:3: Node n1: m"},
		{InputError{Source: srcAt("f.yaml", 3), Object: ref("Pod", "ns", ""), Msg: "m"}, "f.yaml:3: Pod: m"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := Load(ctx, []string{"-"}, Options{Stdin: strings.NewReader(sa("x"))})
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "<stdin>:1: read failed: context canceled") {
		t.Errorf("errors: %v", res.Errors)
	}
	if len(res.Inventory.ServiceAccounts) != 0 || len(res.Inventory.Incomplete[""]) != 1 {
		t.Errorf("a canceled load must read nothing and say so: %+v", res.Inventory)
	}
}
