// Package pods tells the metadata proxy which pod sent a request: it
// watches the pods of one node and the namespaces, and looks a source
// address up in them.
package pods
