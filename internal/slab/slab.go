// Package slab hands out slices of values cut from large blocks that are
// kept and handed out again after Reset, for parsers that build and drop
// the same shapes for every document they read.
package slab

// blockSize is how many values a block holds, unless one request needs
// more.
const blockSize = 512

// Slab hands out slices of T. The zero value is ready to use. Slices
// handed out never move; after Reset they are handed out again, so none
// may be used past it.
type Slab[T any] struct {
	blocks [][]T
	cur    int // the block being handed out
	used   int // how much of it is handed out
}

// Take returns n values, which hold whatever they held before a Reset.
func (s *Slab[T]) Take(n int) []T {
	for s.cur < len(s.blocks) && len(s.blocks[s.cur])-s.used < n {
		s.cur++
		s.used = 0
	}
	if s.cur == len(s.blocks) {
		s.blocks = append(s.blocks, make([]T, max(blockSize, n)))
		s.used = 0
	}
	b := s.blocks[s.cur][s.used : s.used+n : s.used+n]
	s.used += n
	return b
}

// One returns a pointer to a zeroed value.
func (s *Slab[T]) One() *T {
	p := &s.Take(1)[0]
	var zero T
	*p = zero
	return p
}

// Reset hands the blocks out again from the start.
func (s *Slab[T]) Reset() {
	s.cur, s.used = 0, 0
}
