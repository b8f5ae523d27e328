// Package report holds the scan result document, version imdsguard.io/scan/v1,
// and renders it as a table, JSON or SARIF 2.1.0.
package report
