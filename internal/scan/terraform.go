package scan

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/imdsguard/imdsguard/internal/source/manifest"
	"github.com/imdsguard/imdsguard/internal/source/terraform"
)

// splitTerraform takes the .tf files named on the command line away from
// the manifest loader (which would read them as YAML) and finds the
// Terraform root modules under the directories: every directory holding
// .tf files that is not below another one. A directory below a root is
// read only as a module the root calls; it is listed in skipped, so that a
// second root nested in the first is never passed over silently.
func splitTerraform(paths []string) (manifests, roots, skipped []string) {
	for _, p := range paths {
		if p == "-" {
			manifests = append(manifests, p)
			continue
		}
		if terraform.IsTerraform(p) {
			roots = append(roots, p)
			continue
		}
		manifests = append(manifests, p)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			r, s := terraformDirs(p)
			roots, skipped = append(roots, r...), append(skipped, s...)
		}
	}
	return manifests, roots, skipped
}

func terraformDirs(root string) (roots, skipped []string) {
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // the manifest loader reports unreadable paths
		}
		if d.IsDir() && p != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir // .git, .terraform
		}
		if !d.IsDir() && terraform.IsTerraform(p) {
			dir := filepath.Dir(p)
			if len(dirs) == 0 || dirs[len(dirs)-1] != dir {
				dirs = append(dirs, dir)
			}
		}
		return nil
	})
	sort.Strings(dirs)
	for _, d := range dirs {
		if n := len(roots); n > 0 && strings.HasPrefix(d, roots[n-1]+string(filepath.Separator)) {
			skipped = append(skipped, d+": Terraform below the root module "+roots[n-1]+" is read only as a module it calls")
			continue
		}
		roots = append(roots, d)
	}
	return roots, skipped
}

// loadTerraform reads the Terraform roots into the manifest result. Its
// errors are input errors; like other node settings they do not make
// NetworkPolicy verdicts Unknown.
func loadTerraform(ctx context.Context, roots []string, into *manifest.Result) {
	if len(roots) == 0 {
		return
	}
	tf := terraform.Load(ctx, roots, terraform.Options{})
	into.Inventory.NodeConfigs = append(into.Inventory.NodeConfigs, tf.Configs...)
	into.Errors = append(into.Errors, tf.Errors...)
	into.Files = append(into.Files, tf.Files...)
	read := map[string]bool{}
	for _, f := range tf.Files {
		read[f] = true
	}
	kept := into.Skipped[:0]
	for _, s := range into.Skipped {
		if !read[s] {
			kept = append(kept, s)
		}
	}
	into.Skipped = append(kept, tf.Skipped...)
}
