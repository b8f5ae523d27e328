package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// assetsEnv is the variable envtest reads for the binaries' directory.
const assetsEnv = "KUBEBUILDER_ASSETS"

// cacheDir is where hack/controlplane.sh puts the binaries, from the
// repository root.
const cacheDir = ".cache/controlplane"

// errMissing means the control plane binaries are not installed.
var errMissing = errors.New("control plane binaries missing")

// AssetsDir returns the directory holding etcd and kube-apiserver:
// KUBEBUILDER_ASSETS when set, else .cache/controlplane at the repository
// root. The error wraps errMissing when a binary is absent.
func AssetsDir() (string, error) {
	dir := os.Getenv(assetsEnv)
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, cacheDir)
	}
	for _, bin := range []string{"etcd", "kube-apiserver"} {
		p := filepath.Join(dir, bin)
		if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return dir, fmt.Errorf("%w: no executable %s (run hack/controlplane.sh, or set %s)", errMissing, p, assetsEnv)
		}
	}
	return dir, nil
}

// repoRoot walks up from the working directory (a package directory under
// go test) to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}
