// Package endpoints is the catalogue of cloud instance metadata endpoints, and
// of the link-local services that must stay reachable, per cloud.
package endpoints
