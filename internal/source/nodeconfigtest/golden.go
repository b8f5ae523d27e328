package nodeconfigtest

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/golden"
)

// Golden compares got with the golden file at path, or with -update
// rewrites the file (see package golden).
func Golden(t *testing.T, path, got string) {
	t.Helper()
	golden.Check(t, path, got)
}
