// Package wire reads HTTP/1.1 message heads for the metadata proxy's event
// loop: strictly, without allocating per byte, and never more leniently than
// net/http.
package wire
