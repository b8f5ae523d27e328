package slab

import "testing"

func TestTakeNeverMovesAndReuses(t *testing.T) {
	var s Slab[int]
	a := s.Take(3)
	for i := range a {
		a[i] = i + 1
	}
	big := s.Take(blockSize + 1)
	if len(big) != blockSize+1 || cap(big) != blockSize+1 {
		t.Fatalf("Take(%d) = len %d cap %d", blockSize+1, len(big), cap(big))
	}
	if a[0] != 1 || a[2] != 3 {
		t.Errorf("an earlier slice moved or changed: %v", a)
	}
	if b := append(s.Take(2), 9); &b[0] == &big[0] {
		t.Error("appending past a slice's capacity wrote into the slab")
	}
	s.Reset()
	if c := s.Take(3); &c[0] != &a[0] {
		t.Error("Reset did not hand the first block out again")
	}
	if p := s.One(); *p != 0 {
		t.Errorf("One() = %d, want a zeroed value", *p)
	}
}
