// Package conventions holds tests that enforce the repository's code conventions.
package conventions
