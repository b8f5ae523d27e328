// Package scan is the scan pipeline shared by every door into imdsguard (the
// CLI today, the controller and webhook later): load inputs, pick endpoints,
// evaluate reachability, run the rules and assemble the report document.
package scan
