package terraform

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// options are the Options of the cases that need some.
var options = map[string]Options{
	"valid-variables-tfvars": {
		VarFiles: []string{"testdata/valid-variables-tfvars/extra.tfvars"},
		Vars:     map[string]string{"endpoint": "enabled"},
	},
}

// TestLoad loads each testdata/valid-* and invalid-* directory and compares
// what it read with the golden file of the same name. A valid case must
// have no errors, an invalid one at least one.
func TestLoad(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/*-*")
	var n int
	for _, dir := range dirs {
		name := filepath.Base(dir)
		if strings.HasSuffix(name, ".golden") {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			res := Load(context.Background(), []string{dir}, options[name])
			switch valid := strings.HasPrefix(name, "valid-"); {
			case valid && len(res.Errors) > 0:
				t.Errorf("unexpected errors: %v", res.Errors)
			case !valid && len(res.Errors) == 0:
				t.Errorf("no error")
			}
			golden(t, dir+".golden", render(res))
		})
	}
	if n == 0 {
		t.Fatal("no testdata")
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(got, string(want)); diff != "" {
		t.Errorf("%s mismatch (-got +want):\n%s", path, diff)
	}
}
