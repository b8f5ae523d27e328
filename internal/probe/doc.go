// Package probe finds out what the metadata services really answer from
// where it runs. Its agent asks each endpoint of each cloud for credentials,
// the way a compromised pod would, and classifies the answer without ever
// keeping a secret: credentials served, metadata only, refused by the
// service's header rules, refused by the imdsguard proxy, or not reached.
package probe
