package manifest

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/golden"
)

func load(t *testing.T, paths ...string) *Result {
	t.Helper()
	return Load(context.Background(), paths, Options{})
}

// TestValid loads each testdata/valid-* file, expects no error, and compares
// the inventory with its golden file.
func TestValid(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid-*")
	files = slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, ".golden") })
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			res := load(t, file)
			for _, e := range res.Errors {
				t.Errorf("unexpected error: %s", e)
			}
			if len(res.Inventory.Incomplete) > 0 {
				t.Errorf("unexpected incomplete scopes: %v", res.Inventory.Incomplete)
			}
			golden.Check(t, file+".golden", render(res))
		})
	}
}

// want is an expected error, written in an invalid-* file as
// "# want: LINE: TEXT".
type want struct {
	line int
	text string
}

// expectations reads the "# want:" and "# incomplete:" comments of a file.
func expectations(t *testing.T, path string) (wants []want, incomplete []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# want: "); ok {
			n, text, _ := strings.Cut(rest, ": ")
			ln, err := strconv.Atoi(n)
			if err != nil {
				t.Fatalf("bad want line %q", line)
			}
			wants = append(wants, want{ln, text})
		}
		if rest, ok := strings.CutPrefix(line, "# incomplete: "); ok {
			incomplete = append(incomplete, strings.ReplaceAll(rest, "<all>", ""))
		}
	}
	return wants, incomplete
}

// TestInvalid loads each testdata/invalid-* file and expects exactly the
// errors its "# want:" comments name, at those lines.
func TestInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid-*")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			wants, incomplete := expectations(t, file)
			res := load(t, file)
			matched := make([]bool, len(wants))
			for _, e := range res.Errors {
				i := slices.IndexFunc(wants, func(w want) bool {
					return e.Source.File == file && e.Source.Line == w.line && strings.Contains(e.Error(), w.text)
				})
				if i < 0 {
					t.Errorf("unexpected error: %s", e)
					continue
				}
				matched[i] = true
			}
			for i, w := range wants {
				if !matched[i] {
					t.Errorf("missing error %s:%d: ...%s", file, w.line, w.text)
				}
			}
			var got []string
			for scope := range res.Inventory.Incomplete {
				got = append(got, scope)
			}
			slices.Sort(got)
			slices.Sort(incomplete)
			if diff := cmp.Diff(got, incomplete); diff != "" {
				t.Errorf("incomplete scopes (-got +want):\n%s", diff)
			}
		})
	}
}
