// Package nodeconfigtest holds the test harness the node settings loaders
// share: testdata tables of valid-* files compared with golden renderings
// (rewritten with -update) and invalid-* files whose "# want:" comments
// name the expected errors, and a fuzz target checking error positions.
// Only tests import it.
package nodeconfigtest
