// Package command holds what every imdsguard command needs and nothing
// more: I/O streams, exit codes, the logger and the cluster config. It is
// kept light so that a command built on it alone, such as the metadata
// proxy's own binary (cmd/imdsguard-proxy), links no scanner.
package command
