package testenv

import (
	"context"
	"testing"
	"time"
)

// WaitTimeout bounds Eventually and the stop of what Run started.
const WaitTimeout = 30 * time.Second

// Eventually polls cond until it holds, failing the test after
// WaitTimeout; cond says what it saw, for the failure message.
func Eventually(tb testing.TB, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(WaitTimeout)
	var last string
	for time.Now().Before(deadline) {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("timed out after %s waiting for %s; last seen: %s", WaitTimeout, what, last)
}

// Run runs start (a manager's Start, say) in the background until the
// test ends, then cancels its context and checks that it returned cleanly
// within WaitTimeout. It returns the cancel function, to stop it earlier.
func Run(tb testing.TB, start func(context.Context) error) context.CancelFunc {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- start(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("stopping: %v", err)
			}
		case <-time.After(WaitTimeout):
			tb.Errorf("did not stop within %s", WaitTimeout)
		}
	})
	return cancel
}
