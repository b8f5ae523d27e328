package terraform

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestFilesAndDirectories shows that files given one by one form the
// module of their directory, with its tfvars, and that naming a file and
// its directory reads it once.
func TestFilesAndDirectories(t *testing.T) {
	const dir = "testdata/valid-variables-tfvars"
	byDir := Load(context.Background(), []string{dir}, Options{})
	byFile := Load(context.Background(), []string{dir + "/main.tf", dir, dir + "/main.tf"}, Options{})
	if diff := cmp.Diff(render(byFile), render(byDir)); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
	want := []string{dir + "/main.tf", dir + "/terraform.tfvars", dir + "/b.auto.tfvars"}
	if diff := cmp.Diff(byFile.Files, want); diff != "" {
		t.Errorf("files (-got +want):\n%s", diff)
	}
}

func TestMissingPathAndCancel(t *testing.T) {
	res := Load(context.Background(), []string{"testdata/nope"}, Options{})
	if len(res.Errors) != 1 || res.Errors[0].Source.File != "testdata/nope" {
		t.Errorf("errors = %v, want one about testdata/nope", res.Errors)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res = Load(ctx, []string{"testdata/valid-aks"}, Options{})
	if len(res.Errors) != 1 || len(res.Configs) != 0 {
		t.Errorf("cancelled load: errors %v, %d configs", res.Errors, len(res.Configs))
	}
}

func TestIsTerraform(t *testing.T) {
	for path, want := range map[string]bool{
		"main.tf": true, "a/b/nodes.tf": true, "main.tf.json": true, "x.tfvars": false, "main.yaml": false, "x.json": false,
	} {
		if got := IsTerraform(path); got != want {
			t.Errorf("IsTerraform(%q) = %v, want %v", path, got, want)
		}
	}
}

// TestTerraformJSONIsAnError checks that .tf.json files, in a module
// directory or named, are errors naming the file, and the .tf files
// beside them are still read.
func TestTerraformJSONIsAnError(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("main.tf", `resource "aws_launch_template" "lt" {}`)
	j := write("extra.tf.json", `{"resource": {"aws_launch_template": {"other": {}}}}`)
	for _, paths := range [][]string{{dir}, {j}} {
		res := Load(context.Background(), paths, Options{})
		if len(res.Errors) != 1 || res.Errors[0].Source.File != j || !strings.Contains(res.Errors[0].Msg, "not supported") {
			t.Errorf("%v: errors %v", paths, res.Errors)
		}
		if want := paths[0] == dir; want != (len(res.Configs) == 1) {
			t.Errorf("%v: %d configs", paths, len(res.Configs))
		}
	}
}
