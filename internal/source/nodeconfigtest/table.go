package nodeconfigtest

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/golden"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/yamlfield"
)

// ParseFunc is a loader's Parse: it reads one decoded document, whose
// node lines are offset by base in file.
type ParseFunc func(file string, base int, root *yaml.Node) ([]*model.NodeConfig, []*yamlfield.Error)

// Valid parses each testdata/valid-* file, expects no error, and compares
// the rendered node configs with the file's .golden.
func Valid(t *testing.T, parse ParseFunc) {
	t.Helper()
	files, _ := filepath.Glob("testdata/valid-*")
	files = slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, ".golden") })
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			ncs, errs := parseFile(t, file, parse)
			for _, e := range errs {
				t.Errorf("unexpected error: %s", e)
			}
			golden.Check(t, file+".golden", Render(ncs))
		})
	}
}

// Invalid parses each testdata/invalid-* file and expects exactly the
// errors its "# want: LINE: TEXT" comments name.
func Invalid(t *testing.T, parse ParseFunc) {
	t.Helper()
	files, _ := filepath.Glob("testdata/invalid-*")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			wants := expectations(t, file)
			_, errs := parseFile(t, file, parse)
			matched := make([]bool, len(wants))
			for _, e := range errs {
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
		})
	}
}

// parseFile decodes a testdata file and parses it.
func parseFile(t *testing.T, file string, parse ParseFunc) ([]*model.NodeConfig, []*yamlfield.Error) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return parse(file, 0, &root)
}

type want struct {
	line int
	text string
}

func expectations(t *testing.T, path string) []want {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var wants []want
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "# want: ")
		if !ok {
			continue
		}
		n, text, _ := strings.Cut(rest, ": ")
		ln, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("bad want %q", rest)
		}
		wants = append(wants, want{ln, text})
	}
	return wants
}
