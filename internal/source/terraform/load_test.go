package terraform

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/golden"
)

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
			golden.Check(t, dir+".golden", render(res))
		})
	}
	if n == 0 {
		t.Fatal("no testdata")
	}
}
