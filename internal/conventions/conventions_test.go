package conventions

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// roots are the trees whose Go code the conventions cover, relative to this
// package's directory.
var roots = []string{"../../cmd", "../../internal", "../../hack"}

const repoRoot = "../.."

// goFile is one parsed source file.
type goFile struct {
	// path is relative to the repository root, with slashes.
	path string
	ast  *ast.File
	test bool
}

// goPackage is the Go files of one directory.
type goPackage struct {
	dir   string // relative to the repository root, with slashes
	name  string // the name of the non-test package
	files []goFile
}

// parseTree parses every Go file under roots, skipping what the go tool
// skips (testdata, and directories starting with "." or "_").
func parseTree(t *testing.T) (*token.FileSet, []*goPackage) {
	t.Helper()
	fset := token.NewFileSet()
	byDir := map[string]*goPackage{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() {
				if p != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(name, ".go") {
				return nil
			}
			rel, err := filepath.Rel(repoRoot, p)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			f, err := parser.ParseFile(fset, p, nil, parser.ParseComments)
			if err != nil {
				return fmt.Errorf("parsing %s: %w", rel, err)
			}
			dir := path.Dir(rel)
			pkg := byDir[dir]
			if pkg == nil {
				pkg = &goPackage{dir: dir}
				byDir[dir] = pkg
			}
			test := strings.HasSuffix(name, "_test.go")
			if !test {
				pkg.name = f.Name.Name
			}
			pkg.files = append(pkg.files, goFile{path: rel, ast: f, test: test})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	var out []*goPackage
	for _, p := range byDir {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dir < out[j].dir })
	// Guard against a walk that silently finds nothing, which would make
	// every check below pass.
	for _, must := range []string{"cmd/imdsguard", "internal/app", "internal/rules", "hack/perf"} {
		if byDir[must] == nil {
			t.Fatalf("walk did not find %s; are the roots right?", must)
		}
	}
	return fset, out
}

// position renders a position as "path:line" relative to the repository
// root.
func position(fset *token.FileSet, pos token.Pos) string {
	p := fset.Position(pos)
	rel, err := filepath.Rel(repoRoot, p.Filename)
	if err != nil {
		rel = p.Filename
	}
	return fmt.Sprintf("%s:%d", filepath.ToSlash(rel), p.Line)
}

func report(t *testing.T, what string, violations []string) {
	t.Helper()
	if len(violations) > 0 {
		t.Errorf("%s:\n\t%s", what, strings.Join(violations, "\n\t"))
	}
}

// under reports whether dir is root or inside it.
func under(dir, root string) bool { return dir == root || strings.HasPrefix(dir, root+"/") }

// testSupport names packages that exist only for tests. They may do what a
// TestMain does (exit with the tests' code, report on stderr), because
// TestTestSupportIsOnlyImportedByTests keeps them out of the binary.
var testSupport = []string{"internal/testenv"}

func isTestSupport(dir string) bool {
	for _, s := range testSupport {
		if dir == s {
			return true
		}
	}
	return false
}

func TestPackageDocComments(t *testing.T) {
	fset, pkgs := parseTree(t)
	var violations []string
	for _, p := range pkgs {
		var first *goFile
		documented := false
		for i, f := range p.files {
			if f.test {
				continue
			}
			if first == nil {
				first = &p.files[i]
			}
			if doc := f.ast.Doc; doc != nil {
				documented = true
				if p.name != "main" && !strings.HasPrefix(doc.Text(), "Package "+p.name+" ") {
					violations = append(violations, fmt.Sprintf("%s: package doc comment should start %q",
						position(fset, f.ast.Package), "Package "+p.name+" "))
				}
			}
		}
		if first != nil && !documented {
			violations = append(violations, fmt.Sprintf("%s: package %s has no doc comment in any non-test file",
				position(fset, first.ast.Package), p.name))
		}
	}
	report(t, "packages without a proper doc comment", violations)
}

// TestOnlyMainExits keeps os.Exit in internal/app (whose Main is the one
// exit of the imdsguard binary) and in the main packages of cmd/ and hack/.
// Test files are not checked: TestMain may exit.
func TestOnlyMainExits(t *testing.T) {
	fset, pkgs := parseTree(t)
	var violations []string
	for _, p := range pkgs {
		allowed := p.dir == "internal/app" || isTestSupport(p.dir) ||
			(p.name == "main" && (under(p.dir, "cmd") || under(p.dir, "hack")))
		if allowed {
			continue
		}
		for _, f := range p.files {
			if !f.test {
				violations = append(violations, exitCalls(fset, f.ast)...)
			}
		}
	}
	report(t, "os.Exit outside internal/app and the main packages of cmd/ and hack/", violations)
}

// TestLibrariesDoNotPrint keeps the packages under internal/ that are not
// the command line (internal/app, internal/cli/...) from writing to the
// process's stdout and stderr: results and diagnostics are returned, and
// the command line decides where they go.
func TestLibrariesDoNotPrint(t *testing.T) {
	fset, pkgs := parseTree(t)
	var violations []string
	for _, p := range pkgs {
		if !under(p.dir, "internal") || p.dir == "internal/app" || under(p.dir, "internal/cli") || isTestSupport(p.dir) {
			continue
		}
		for _, f := range p.files {
			if !f.test {
				violations = append(violations, printCalls(fset, f.ast)...)
			}
		}
	}
	report(t, "library packages that print", violations)
}

// TestForbiddenImports checks every file, tests included: testify because
// tests use the standard library and cmp, io/ioutil because it is
// deprecated.
func TestForbiddenImports(t *testing.T) {
	fset, pkgs := parseTree(t)
	var violations []string
	for _, p := range pkgs {
		for _, f := range p.files {
			violations = append(violations, forbiddenImports(fset, f.ast)...)
		}
	}
	report(t, "forbidden imports", violations)
}

// TestTestSupportIsOnlyImportedByTests backs the exemptions of testSupport.
func TestTestSupportIsOnlyImportedByTests(t *testing.T) {
	fset, pkgs := parseTree(t)
	var violations []string
	for _, p := range pkgs {
		for _, f := range p.files {
			if f.test {
				continue
			}
			for _, imp := range f.ast.Imports {
				ip, _ := strconv.Unquote(imp.Path.Value)
				for _, s := range testSupport {
					if ip == "github.com/imdsguard/imdsguard/"+s {
						violations = append(violations, fmt.Sprintf("%s: imports test support package %s", position(fset, imp.Pos()), ip))
					}
				}
			}
		}
	}
	report(t, "non-test code importing test support", violations)
}

// importName returns the name under which a file imports a package, or ""
// if it does not (or imports it with _ or .).
func importName(f *ast.File, importPath string) string {
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p != importPath {
			continue
		}
		if imp.Name == nil {
			return path.Base(importPath)
		}
		if imp.Name.Name == "_" || imp.Name.Name == "." {
			return ""
		}
		return imp.Name.Name
	}
	return ""
}

// selectorOf reports whether n is pkg.<one of names>.
func selectorOf(n ast.Node, pkg string, names ...string) (string, bool) {
	sel, ok := n.(*ast.SelectorExpr)
	if !ok || pkg == "" {
		return "", false
	}
	id, ok := sel.X.(*ast.Ident)
	if !ok || id.Name != pkg || id.Obj != nil { // Obj != nil: a local variable shadows the package
		return "", false
	}
	for _, name := range names {
		if sel.Sel.Name == name {
			return id.Name + "." + name, true
		}
	}
	return "", false
}

func exitCalls(fset *token.FileSet, f *ast.File) []string {
	osName := importName(f, "os")
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if what, ok := selectorOf(call.Fun, osName, "Exit"); ok {
				out = append(out, fmt.Sprintf("%s: calls %s", position(fset, call.Pos()), what))
			}
		}
		return true
	})
	return out
}

func printCalls(fset *token.FileSet, f *ast.File) []string {
	fmtName, osName := importName(f, "fmt"), importName(f, "os")
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if what, ok := selectorOf(n.Fun, fmtName, "Print", "Printf", "Println"); ok {
				out = append(out, fmt.Sprintf("%s: calls %s", position(fset, n.Pos()), what))
			}
			if id, ok := n.Fun.(*ast.Ident); ok && (id.Name == "print" || id.Name == "println") && id.Obj == nil {
				out = append(out, fmt.Sprintf("%s: calls builtin %s", position(fset, n.Pos()), id.Name))
			}
		case *ast.SelectorExpr:
			if what, ok := selectorOf(n, osName, "Stdout", "Stderr"); ok {
				out = append(out, fmt.Sprintf("%s: uses %s", position(fset, n.Pos()), what))
			}
		}
		return true
	})
	return out
}

func forbiddenImports(fset *token.FileSet, f *ast.File) []string {
	var out []string
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if p == "io/ioutil" || p == "github.com/stretchr/testify" || strings.HasPrefix(p, "github.com/stretchr/testify/") {
			out = append(out, fmt.Sprintf("%s: imports %s", position(fset, imp.Pos()), p))
		}
	}
	return out
}

// TestCheckers shows that each checker finds what it looks for, so that the
// tests above cannot pass by finding nothing.
func TestCheckers(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(*token.FileSet, *ast.File) []string
		want  []string
	}{
		{
			name:  "os.Exit",
			src:   "package p\nimport \"os\"\nfunc f() {\n\tos.Exit(1)\n}\n",
			check: exitCalls,
			want:  []string{"internal/p/p.go:4: calls os.Exit"},
		},
		{
			name:  "os.Exit under another name",
			src:   "package p\nimport xos \"os\"\nfunc f() { xos.Exit(2) }\n",
			check: exitCalls,
			want:  []string{"internal/p/p.go:3: calls xos.Exit"},
		},
		{
			name:  "a local variable named os is not the package",
			src:   "package p\nimport \"os\"\nvar _ = os.Args\ntype e struct{}\nfunc (e) Exit(int) {}\nfunc f() { os := e{}; os.Exit(1) }\n",
			check: exitCalls,
			want:  nil,
		},
		{
			name:  "fmt.Print, Printf and Println",
			src:   "package p\nimport \"fmt\"\nfunc f() {\n\tfmt.Print(1)\n\tfmt.Printf(\"%d\", 1)\n\tfmt.Println(1)\n\t_ = fmt.Sprintf(\"%d\", 1)\n}\n",
			check: printCalls,
			want:  []string{"internal/p/p.go:4: calls fmt.Print", "internal/p/p.go:5: calls fmt.Printf", "internal/p/p.go:6: calls fmt.Println"},
		},
		{
			name:  "writing to os.Stdout and os.Stderr",
			src:   "package p\nimport (\n\t\"fmt\"\n\t\"os\"\n)\nfunc f() {\n\tfmt.Fprintln(os.Stderr, 1)\n\tw := os.Stdout\n\t_ = w\n}\n",
			check: printCalls,
			want:  []string{"internal/p/p.go:7: uses os.Stderr", "internal/p/p.go:8: uses os.Stdout"},
		},
		{
			name:  "builtin println",
			src:   "package p\nfunc f() { println(1) }\n",
			check: printCalls,
			want:  []string{"internal/p/p.go:2: calls builtin println"},
		},
		{
			name:  "writing to a given writer is fine",
			src:   "package p\nimport (\n\t\"fmt\"\n\t\"io\"\n)\nfunc f(w io.Writer) { fmt.Fprintln(w, 1) }\n",
			check: printCalls,
			want:  nil,
		},
		{
			name:  "forbidden imports",
			src:   "package p\nimport (\n\t\"io/ioutil\"\n\t\"github.com/stretchr/testify/require\"\n\t\"github.com/stretchr/testify\"\n\t\"io\"\n)\n",
			check: forbiddenImports,
			want: []string{"internal/p/p.go:3: imports io/ioutil", "internal/p/p.go:4: imports github.com/stretchr/testify/require",
				"internal/p/p.go:5: imports github.com/stretchr/testify"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, filepath.Join(repoRoot, "internal", "p", "p.go"), tt.src, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.check(fset, f), tt.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}
