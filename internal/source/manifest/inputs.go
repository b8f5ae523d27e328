package manifest

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// stdinName is the file name of input read from stdin.
const stdinName = "<stdin>"

// input is one file to read, or a path that could not be used.
type input struct {
	path string // "-" for stdin
	name string // the name in sources and messages
	err  *InputError
}

// expand turns the paths given into the files to read, walking directories.
// Explicitly named files are read whatever their extension.
func expand(paths []string) (inputs []input, skipped []string) {
	seen := map[string]bool{}
	add := func(in input) {
		if !seen[in.path] {
			seen[in.path] = true
			inputs = append(inputs, in)
		}
	}
	for _, p := range paths {
		if p == "-" {
			add(input{path: "-", name: stdinName})
			continue
		}
		info, err := os.Stat(p)
		switch {
		case err != nil:
			add(input{path: p, name: p, err: pathError(p, err)})
		case info.IsDir():
			skipped = append(skipped, walk(p, add)...)
		default:
			add(input{path: filepath.Clean(p), name: p})
		}
	}
	// A file passed over by a walk but also named on its own was read.
	skipped = slices.DeleteFunc(skipped, func(p string) bool { return seen[filepath.Clean(p)] })
	return inputs, skipped
}

// walk adds the manifest files under dir in lexical order and returns the
// files it passed over. Hidden directories such as .git are not entered.
func walk(dir string, add func(input)) []string {
	var skipped []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			add(input{path: p, name: p, err: pathError(p, err)})
			return nil
		}
		hidden := p != dir && strings.HasPrefix(d.Name(), ".")
		switch {
		case d.IsDir() && hidden:
			return filepath.SkipDir
		case d.IsDir():
		case hidden || !isManifestName(p) || !isRegular(p, d):
			skipped = append(skipped, p)
		default:
			add(input{path: filepath.Clean(p), name: p})
		}
		return nil
	})
	if err != nil {
		add(input{path: dir, name: dir, err: pathError(dir, err)})
	}
	return skipped
}

// isRegular reports whether a directory entry is a file, following a symlink.
func isRegular(p string, d fs.DirEntry) bool {
	if d.Type().IsRegular() {
		return true
	}
	info, err := os.Stat(p)
	return err == nil && info.Mode().IsRegular()
}

// isManifestName reports whether a file name is one the walk reads.
func isManifestName(p string) bool {
	if strings.HasSuffix(p, ".tf.json") {
		return false // Terraform's JSON syntax, left to the scan's Terraform step
	}
	switch strings.ToLower(filepath.Ext(p)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// pathError reports a path that cannot be read.
func pathError(p string, err error) *InputError {
	msg := err.Error()
	if pe, ok := err.(*fs.PathError); ok {
		msg = pe.Err.Error()
	}
	return &InputError{Source: model.Source{File: p}, Msg: "cannot read: " + msg}
}
