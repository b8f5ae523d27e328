package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// crdsEnv overrides the directory hack/crds.sh fills.
const crdsEnv = "IMDSGUARD_CRDS"

// InstallUpstreamCRDs installs CRDs hack/crds.sh fetched, by file name,
// from .cache/crds at the repository root (IMDSGUARD_CRDS overrides the
// directory), and waits until the API server serves them. A missing file
// fails the test.
func (e *Env) InstallUpstreamCRDs(tb testing.TB, files ...string) {
	tb.Helper()
	dir := os.Getenv(crdsEnv)
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			tb.Fatal(err)
		}
		dir = filepath.Join(root, ".cache", "crds")
	}
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = filepath.Join(dir, f)
		if _, err := os.Stat(paths[i]); err != nil {
			tb.Fatalf("%v: run hack/crds.sh (or set %s)", err, crdsEnv)
		}
	}
	if _, err := envtest.InstallCRDs(e.Config, envtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true}); err != nil {
		tb.Fatalf("installing %v: %v", files, err)
	}
}
