package scan

import (
	"context"
	"path/filepath"
	"sort"
	"strings"

	"github.com/imdsguard/imdsguard/internal/source/manifest"
	"github.com/imdsguard/imdsguard/internal/source/terraform"
)

// splitTerraform takes the .tf files named on the command line away from
// the manifest loader, which would read them as YAML.
func splitTerraform(paths []string) (manifests, files []string) {
	for _, p := range paths {
		if p != "-" && terraform.IsTerraform(p) {
			files = append(files, p)
		} else {
			manifests = append(manifests, p)
		}
	}
	return manifests, files
}

// terraformRoots finds the Terraform root modules among the .tf files the
// manifest loader came across while walking directories (so no directory is
// walked twice): every directory holding .tf files that is not below
// another one. A directory below a root is read only as a module the root
// calls; it is listed in skipped, so that a second root nested in the first
// is never passed over silently.
func terraformRoots(found []string) (roots, skipped []string) {
	var dirs []string
	seen := map[string]bool{}
	for _, f := range found {
		if d := filepath.Dir(f); terraform.IsTerraform(f) && !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
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
// NetworkPolicy verdicts Unknown, but they are node settings gaps, which
// keep the node layer from withholding.
func loadTerraform(ctx context.Context, roots []string, into *manifest.Result) {
	if len(roots) == 0 {
		return
	}
	tf := terraform.Load(ctx, roots, terraform.Options{})
	into.Inventory.NodeConfigs = append(into.Inventory.NodeConfigs, tf.Configs...)
	into.Errors = append(into.Errors, tf.Errors...)
	for _, e := range tf.Errors {
		into.Inventory.NodeConfigGaps = append(into.Inventory.NodeConfigGaps, e.Error())
	}
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
