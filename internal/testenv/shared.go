package testenv

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// The control plane shared by the tests of one package: started by the
// first Get, stopped by Main after the tests.
var shared struct {
	once sync.Once
	env  *Env
	err  error
}

// Main runs a package's tests and then stops the shared control plane, if
// one was started. Call it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	if shared.env != nil {
		if err := shared.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: stopping control plane:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// Get returns the package's shared control plane, starting it on first
// use. Missing binaries fail the test (skip it under -short, unless
// CI=true); a control plane that does not start fails every test that
// asks for it.
func Get(tb testing.TB) *Env {
	tb.Helper()
	requireAssets(tb)
	shared.once.Do(func() { shared.env, shared.err = start() })
	if shared.err != nil {
		tb.Fatalf("starting control plane: %v", shared.err)
	}
	return shared.env
}
