// Package cli holds what the subcommands share: I/O streams, exit codes, and
// the input flags common to scan and explain. Each subcommand lives in its
// own package below this one.
package cli
