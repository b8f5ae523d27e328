package testenv

import (
	"net"
	"testing"
)

// FreeAddr returns a loopback address (127.0.0.1:PORT) that nothing
// listens on, for a server the test starts.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
