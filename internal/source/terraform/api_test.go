package terraform

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/model"
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

// TestTerraformJSONBesideNative checks that .tf.json files are read with
// the .tf files of their module, named one by one or by directory, and
// that references cross from one syntax to the other.
func TestTerraformJSONBesideNative(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("main.tf", `resource "aws_launch_template" "lt" {
  metadata_options {
    http_tokens = var.tokens
  }
}`)
	j := write("vars.tf.json", `{"variable": {"tokens": {"default": "required"}}}`)
	for _, paths := range [][]string{{dir}, {filepath.Join(dir, "main.tf"), j}} {
		res := Load(context.Background(), paths, Options{})
		if len(res.Errors) != 0 || len(res.Configs) != 1 {
			t.Fatalf("%v: errors %v, %d configs", paths, res.Errors, len(res.Configs))
		}
		if v := res.Configs[0].AWS.HTTPTokens; v.State != model.Set || v.Raw != "required" {
			t.Errorf("%v: tokens %+v, want the JSON variable's default", paths, v)
		}
	}
}

// TestTerraformJSONErrors checks that broken JSON is an error at its line
// and that nothing of the file is read.
func TestTerraformJSONErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		src  string
		line int
		msg  string
	}{
		"syntax":     {"{\n  \"resource\": {\n    \"aws_instance\": {\"a\": {]}\n  }\n}\n", 3, "invalid JSON"},
		"duplicate":  {"{\"locals\": {\"a\": 1},\n \"locals\": {}}", 2, "duplicate key"},
		"unclosed":   {"{\"locals\": {\"a\": \"x}}", 1, "unterminated string"},
		"not object": {"[1]", 1, "must be an object"},
		"labels":     {"{\"resource\": {\"aws_instance\": [1]}}", 1, "expected an object keyed by"},
		"template":   {"{\"locals\": {\n\"a\": \"${var.\"}}", 2, ""},
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "main.tf.json")
			if err := os.WriteFile(file, []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			res := Load(context.Background(), []string{file}, Options{})
			if len(res.Errors) == 0 || res.Errors[0].Source.Line != tt.line || !strings.Contains(res.Errors[0].Msg, tt.msg) {
				t.Errorf("errors %v, want one at line %d mentioning %q", res.Errors, tt.line, tt.msg)
			}
		})
	}
}
