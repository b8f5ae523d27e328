package wire

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// checkStillIncomplete asserts that StillIncomplete(buf[:m], k) agrees with
// ParseRequest wherever ParseRequest found buf[:k] incomplete.
func checkStillIncomplete(t *testing.T, buf []byte, k, m int) {
	t.Helper()
	var r Request
	if _, err := ParseRequest(buf[:k], &r); !errors.Is(err, ErrIncomplete) {
		return
	}
	_, err := ParseRequest(buf[:m], &r)
	if want := errors.Is(err, ErrIncomplete); StillIncomplete(buf[:m], k) != want {
		t.Fatalf("%q: StillIncomplete from %d to %d is %v, ParseRequest says %v", buf, k, m, !want, err)
	}
}

// TestStillIncomplete: the loop skips ParseRequest when StillIncomplete
// says the new bytes cannot complete (or spoil) the head, so it must never
// say so where ParseRequest would decide: every split of realistic and
// mutated heads, read after read and in jumps.
func TestStillIncomplete(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	inputs := [][]byte{
		[]byte("\r\nGET / HTTP/1.1\r\n\r\n"), []byte("\n"), []byte("GET / HTTP/1.1\r\r\n\r\n"),
		[]byte("GET / HTTP/1.1\r\nA: b\n\r\n"), []byte("GET / HTTP/1.1\r\nA: b\r\n\n"),
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("A: b\r\n", 3300)),
	}
	for _, tc := range realistic {
		inputs = append(inputs, []byte(tc.head))
	}
	for range 2000 {
		inputs = append(inputs, mutate(rng))
	}
	for _, in := range inputs {
		for m := 1; m <= len(in); m++ {
			checkStillIncomplete(t, in, m-1, m) // read after read
			checkStillIncomplete(t, in, rng.IntN(m), m)
		}
	}
}

func FuzzStillIncomplete(f *testing.F) {
	for _, tc := range realistic {
		f.Add([]byte(tc.head), uint16(5), uint16(40))
	}
	f.Add([]byte("GET / HTTP/1.1\r\nA: b\n\r\n"), uint16(3), uint16(30))
	f.Fuzz(func(t *testing.T, in []byte, k, m uint16) {
		if len(in) == 0 {
			return
		}
		mm := 1 + int(m)%len(in)
		checkStillIncomplete(t, in, int(k)%mm, mm)
	})
}
