package terraform

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

// Options tune Load.
type Options struct {
	// VarFiles are extra .tfvars files, applied to every root module after
	// terraform.tfvars and *.auto.tfvars, in order, like -var-file.
	VarFiles []string
	// Vars set root module variables last, like -var NAME=VALUE.
	Vars map[string]string
}

// Result is what Load read.
type Result struct {
	// Configs are the node settings found, in the order of the modules,
	// files and lines they were read from.
	Configs []*model.NodeConfig
	// Errors lists every input problem with its file and line.
	Errors []*manifest.InputError
	// Files are the files read, in order.
	Files []string
	// Skipped are the things not followed, each with its place and reason:
	// remote module sources.
	Skipped []string
}

// IsTerraform reports whether path names a Terraform file this package
// reads: native syntax (.tf) or JSON syntax (.tf.json).
func IsTerraform(path string) bool {
	return strings.HasSuffix(path, ".tf") || isTerraformJSON(path)
}

func isTerraformJSON(path string) bool { return strings.HasSuffix(path, ".tf.json") }

// Load reads Terraform code. Each path is a .tf file or a directory; a
// directory is one module (its *.tf files, terraform.tfvars and
// *.auto.tfvars, not its subdirectories). Files given one by one are
// grouped by directory into one module each, with that directory's tfvars.
// Local module sources are followed. Problems never stop the load: they
// are returned in Result.Errors.
func Load(ctx context.Context, paths []string, o Options) *Result {
	l := &loader{ctx: ctx, opts: o, res: &Result{}, links: &links{}}
	for _, r := range l.roots(paths) {
		if err := ctx.Err(); err != nil {
			l.res.Errors = append(l.res.Errors, &manifest.InputError{
				Source: model.Source{File: r.dir}, Msg: fmt.Sprintf("loading terraform: %v", err)})
			break
		}
		m := l.loadModule(r.dir, r.files, "", nil, nil)
		l.setRootVars(m, r.dir)
		l.modules = append(l.modules, m)
	}
	for _, m := range l.modules {
		l.extractAll(m)
	}
	l.links.resolve(l.res.Configs)
	l.res.Configs = slices.DeleteFunc(l.res.Configs, func(c *model.NodeConfig) bool { return l.links.noNodes[c] })
	return l.res
}

// loader holds the state of one Load call.
type loader struct {
	ctx     context.Context
	opts    Options
	res     *Result
	modules []*module
	links   *links
	count   int // module instances read
}

// root is one root module: a directory and the files read from it.
type root struct {
	dir   string
	files []string
}

// roots turns the paths into root modules, in the order first named.
func (l *loader) roots(paths []string) []root {
	var out []root
	index := map[string]int{}
	add := func(dir string, files ...string) {
		i, ok := index[dir]
		if !ok {
			i = len(out)
			index[dir] = i
			out = append(out, root{dir: dir})
		}
		for _, f := range files {
			if !contains(out[i].files, f) {
				out[i].files = append(out[i].files, f)
			}
		}
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			l.res.Errors = append(l.res.Errors, &manifest.InputError{
				Source: model.Source{File: p}, Msg: fmt.Sprintf("reading terraform: %v", err)})
		case fi.IsDir():
			files, err := l.moduleFiles(p)
			if err != nil {
				l.res.Errors = append(l.res.Errors, &manifest.InputError{
					Source: model.Source{File: p}, Msg: fmt.Sprintf("reading terraform module: %v", err)})
				continue
			}
			add(p, files...)
		default:
			add(filepath.Dir(p), p)
		}
	}
	return out
}

// moduleFiles lists the *.tf and *.tf.json files of a module directory,
// sorted.
func (l *loader) moduleFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
		case IsTerraform(name):
			files = append(files, filepath.Join(dir, name))
		}
	}
	sort.Strings(files)
	return files, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
