package yamlsubset

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/synth"
)

// shared is reused by every check, as a loader reuses its parser.
var shared Parser

// check parses src both ways. When Parse accepts, yaml.v3 must accept too
// and build the same tree (comments aside). It reports whether Parse
// accepted.
func check(t *testing.T, src string) bool {
	t.Helper()
	got, ok := shared.Parse(src)
	var want yaml.Node
	err := yaml.Unmarshal([]byte(src), &want)
	if !ok {
		return false
	}
	if err != nil {
		t.Errorf("Parse accepted what yaml.v3 refuses (%v):\n%s", err, src)
		return true
	}
	if d := diff(got, &want, "doc"); d != "" {
		t.Errorf("trees differ at %s:\n%s", d, src)
	}
	return true
}

// diff returns the path of the first difference between two trees, or "".
func diff(a, b *yaml.Node, path string) string {
	if a == nil || b == nil {
		if a != b {
			return path + ": one is nil"
		}
		return ""
	}
	if a.Kind != b.Kind || a.Style != b.Style || a.Tag != b.Tag || a.Value != b.Value ||
		a.Anchor != b.Anchor || a.Line != b.Line || a.Column != b.Column {
		return fmt.Sprintf("%s: got {kind %d style %d tag %q value %q at %d:%d}, want {kind %d style %d tag %q value %q at %d:%d}",
			path, a.Kind, a.Style, a.Tag, a.Value, a.Line, a.Column, b.Kind, b.Style, b.Tag, b.Value, b.Line, b.Column)
	}
	if len(a.Content) != len(b.Content) {
		return fmt.Sprintf("%s: %d children, want %d", path, len(a.Content), len(b.Content))
	}
	for i := range a.Content {
		if d := diff(a.Content[i], b.Content[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
			return d
		}
	}
	return ""
}

func TestParseAcceptsAndMatches(t *testing.T) {
	for _, src := range []string{
		"a: b\n",
		"---\na: b\n",
		"--- # c\napiVersion: v1\nkind: Pod\n",
		"# head\n\na: 1\nb: true\nc: ~\nd: null\ne: 1.5\nf: 0x1f\ng: 2001-12-14\nh: yes\ni: -3\nj: .inf\n",
		"a:\n  b: c\n  d:\n    e: f\n",
		"a:\n- 1\n- 2\nb: 3\n",
		"a:\n  - x\n  - y: 1\n    z: 2\n  -\n  - w\n",
		"- a\n- b: c\n  d: e\n-   f: g\n    h: i\n",
		"a: {}\nb: []\nc: {x: 1, y: [2, 3], z: {q: r}}\nd: [a, 'b', \"c\"]\n",
		"a: 'it''s'\nb: \"x\\ty\\\\z\\\"\"\nc: \"\"\nd: ''\n",
		"a: b # comment\nc: 'd' # e\n# f\n  # g\nh: i\n",
		"url: http://x:80/a#b\nk: a:b\n",
		"<<: {a: 1}\nb: 2\n",
		"a:\nb:\n",
		"a:\r\n  b: c\r\n",
		"  a: 1\n  b: 2\n",
		"except: [fd00:ec2::254/128]\n",
		"- {key: tier, operator: In, values: [a, b]}\n- {}\n",
		"a:   spaced   value   \n",
		"\"quoted key\": 1\n'single': 2\n\"k\" : 3\n",
		"a: --x\n",
		"cidr: ::/0\nb: ?x\n:c: d\n",
	} {
		if !check(t, src) {
			t.Errorf("declined:\n%s", src)
		}
	}
}

func TestParseDeclines(t *testing.T) {
	for _, src := range []string{
		"a: &x 1\nb: *x\n",
		"a: !!str 1\n",
		"a: |\n  x\n",
		"a: >\n  x\n",
		"a: b\n  c\n",
		"a: 'b\n  c'\n",
		"a: [b,\n  c]\n",
		"a:\tb\n",
		"a: é\n",
		"%YAML 1.2\n---\na: b\n",
		"a: b\n---\nc: d\n",
		"a: b: c\n",
		"? a\n: b\n",
		"- - a\n",
		"a: \"\\u00e9\"\n",
		"a:\n  b\n",
		"a: b\n c: d\n",
		"a: [b: c]\n",
		"a: [b,]\n",
		"a: {b}\n",
		"a: @b\n",
		"",
		"# only a comment\n",
		"just a scalar\n",
		"a: b\rc: d\n",
		"a: -\n",
	} {
		if check(t, src) {
			t.Errorf("accepted:\n%s", src)
		}
	}
}

// TestParseTestdata holds Parse to yaml.v3 on every YAML file of the
// repository's test data, document by document.
func TestParseTestdata(t *testing.T) {
	files, _ := filepath.Glob("../../../examples/*.yaml")
	more, _ := filepath.Glob("../manifest/testdata/*.yaml")
	files = append(files, more...)
	accepted := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range strings.Split(string(b), "\n---") {
			if check(t, d) {
				accepted++
			}
		}
	}
	if accepted == 0 {
		t.Errorf("no document of %d files accepted", len(files))
	}
}

// TestParseDifferential checks random documents built from the pieces
// manifests are made of, with the awkward cases mixed in.
func TestParseDifferential(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	r := rand.New(rand.NewPCG(1, 2))
	accepted := 0
	for range n {
		if check(t, randomDoc(r)) {
			accepted++
		}
		if t.Failed() {
			return
		}
	}
	if accepted < n/4 {
		t.Errorf("only %d of %d random documents accepted", accepted, n)
	}
}

// FuzzParse holds Parse to yaml.v3 on arbitrary input.
func FuzzParse(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		f.Add(randomDoc(r))
	}
	f.Fuzz(func(t *testing.T, src string) { check(t, src) })
}

var scalars = []string{
	"a", "app-1", "1", "-1", "0x1f", "1.5", "1e3", ".5", "true", "False", "yes", "no", "on", "~", "null",
	"2001-12-14", "<<", "http://x:80/p", "a:b", "a#b", "a b", "a  b", "-", "--", "-a", ".inf", "+1", "0o17", "1_000",
	"'q'", "'it''s'", "\"d\"", "\"e\\n\\t\\\\\"", "\"\"", "''", "\"\\x41\"", "!t", "&a", "*a", "|", ">", "@", "`",
	"a: b", "[a]", "{a: b}", "[]", "{}", "[a, b]", "[a,b]", "{a: [b, {c: d}]}", "[fd00::1/128]", "[a:]", "[a: b]",
	"{a}", "[a,]", "::/0", "?x", ":x", "[::1]", "[:x]", "{:a: b}", "[ a , b ]", "{ a : b }", "a #c", "a#c", "? a", ": a", "a\t", "é", "100m", "0.0.0.0/0",
}

// randomDoc builds a YAML-ish document: mostly valid block YAML, with
// random indentation slips and odd scalars.
func randomDoc(r *rand.Rand) string {
	var b strings.Builder
	if r.IntN(3) == 0 {
		b.WriteString([]string{"---\n", "--- # x\n", "--- a\n", "# c\n", "\n"}[r.IntN(5)])
	}
	writeNode(&b, r, 0, 3, r.IntN(2) == 0)
	if r.IntN(5) == 0 {
		b.WriteString([]string{"# tail\n", "...\n", "x\n", "  y: 1\n", "\n\n"}[r.IntN(5)])
	}
	s := b.String()
	if r.IntN(10) == 0 {
		s = strings.ReplaceAll(s, "\n", "\r\n")
	}
	return s
}

func writeNode(b *strings.Builder, r *rand.Rand, indent, depth int, seq bool) {
	pad := strings.Repeat(" ", indent)
	for i, n := 0, 1+r.IntN(4); i < n; i++ {
		if r.IntN(12) == 0 {
			b.WriteString(pad + "# comment\n")
		}
		slip := ""
		if r.IntN(40) == 0 {
			slip = " "
		}
		if seq {
			b.WriteString(pad + slip + "-")
			switch k := r.IntN(5); {
			case k == 0 && depth > 0:
				b.WriteString("\n")
				writeNode(b, r, indent+2, depth-1, r.IntN(3) == 0)
			case k == 1 && depth > 0:
				// A compact mapping.
				b.WriteString(" " + key(r) + ": " + scalar(r) + "\n")
				writeNode(b, r, indent+2, depth-1, false)
			case k == 2:
				b.WriteString("\n")
			default:
				b.WriteString(" " + scalar(r) + "\n")
			}
			continue
		}
		b.WriteString(pad + slip + key(r) + ":")
		switch k := r.IntN(5); {
		case k == 0 && depth > 0:
			b.WriteString("\n")
			writeNode(b, r, indent+2*r.IntN(2)+1*(r.IntN(8)/7), depth-1, r.IntN(2) == 0)
		case k == 1 && depth > 0:
			b.WriteString("\n")
			writeNode(b, r, indent, depth-1, true)
		case k == 2:
			b.WriteString("\n")
		default:
			b.WriteString(" " + scalar(r))
			if r.IntN(8) == 0 {
				b.WriteString(" # c")
			}
			b.WriteString("\n")
		}
	}
}

func key(r *rand.Rand) string {
	if r.IntN(6) == 0 {
		return scalars[r.IntN(len(scalars))]
	}
	return []string{"name", "labels", "app", "spec", "a", "b", "\"q k\"", "'s'", "<<", "1", "true", "k.io/x"}[r.IntN(12)]
}

func scalar(r *rand.Rand) string {
	return scalars[r.IntN(len(scalars))]
}

// TestParseCoversSyntheticClusters guards the speed of a scan: every
// document of the benchmarks' synthetic cluster must be read by the subset,
// not handed to yaml.v3.
func TestParseCoversSyntheticClusters(t *testing.T) {
	dir := t.TempDir()
	if _, err := synth.Write(dir, synth.Spec{Namespaces: 20, WorkloadsPerNS: 10, PoliciesPerNS: 6, Seed: 3, NamespacesPerFile: 20}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range strings.Split(string(b), "\n---\n") {
			if i > 0 {
				d = "---\n" + d
			}
			if !check(t, d+"\n") {
				t.Errorf("declined a synthetic document:\n%s", d)
			}
		}
	}
}
