// Package app wires the imdsguard command tree and owns the process exit
// code: Main is the only place that calls os.Exit.
package app
