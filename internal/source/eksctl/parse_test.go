package eksctl

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/source/nodeconfigtest"
)

// TestValid parses each testdata/valid-* file, expects no error, and
// compares the node configs with the golden file.
func TestValid(t *testing.T) { nodeconfigtest.Valid(t, Parse) }

// TestInvalid parses each testdata/invalid-* file and expects exactly
// the errors its "# want: LINE: TEXT" comments name.
func TestInvalid(t *testing.T) { nodeconfigtest.Invalid(t, Parse) }
