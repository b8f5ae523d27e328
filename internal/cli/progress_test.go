package cli

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the progress goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProgress(t *testing.T) {
	defer func(d, tick time.Duration) { progressDelay, progressTick = d, tick }(progressDelay, progressTick)
	progressDelay, progressTick = 20*time.Millisecond, 5*time.Millisecond
	line := func(time.Duration) string { return "scanning cluster prod: 7 objects read" }

	// Quick: stopped before the delay, nothing is drawn.
	var quick syncBuffer
	StartProgress(&quick, true, line).Stop()
	if quick.String() != "" {
		t.Errorf("a quick operation drew %q", quick.String())
	}
	// Disabled (not a terminal, or --quiet): nothing, however long.
	var off syncBuffer
	p := StartProgress(&off, false, line)
	time.Sleep(60 * time.Millisecond)
	p.Stop()
	if off.String() != "" {
		t.Errorf("disabled progress drew %q", off.String())
	}
	// Slow: drawn in place, then cleared.
	var slow syncBuffer
	p = StartProgress(&slow, true, line)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(slow.String(), "7 objects read") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.Stop()
	p.Stop() // idempotent
	got := slow.String()
	if !strings.HasPrefix(got, "\r\033[Kscanning cluster prod: 7 objects read") || !strings.HasSuffix(got, "\r\033[K") || strings.Contains(got, "\n") {
		t.Errorf("progress output %q", got)
	}
}
