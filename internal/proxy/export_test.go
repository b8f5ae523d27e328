package proxy

// CheckNoBypass is checkNoBypass (reference_test.go) for the external
// tests of this package.
var CheckNoBypass = checkNoBypass
