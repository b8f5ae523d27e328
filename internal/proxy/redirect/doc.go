// Package redirect steers pod traffic for the metadata service to the proxy
// with nftables, fail-closed: the table it owns is always in one of two
// states, dropping that traffic or redirecting it to the proxy, and every
// change between them is one atomic netlink transaction.
package redirect
