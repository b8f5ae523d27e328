package reach_test

import (
	"bytes"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"testing"
)

// FuzzEvaluate checks the engine against the reference evaluator on
// inventories decoded from the fuzz input: each byte drives one choice of
// the generator, so mutating a byte changes one decision (a label, a prefix
// length, a port) rather than the whole case.
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("deny-all egress except metadata"))
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Add(bytes.Repeat([]byte{0x00, 0x80}, 64))
	f.Add([]byte{2, 200, 10, 0, 0, 30, 255, 4, 90, 1, 1, 1, 128, 64, 32, 16, 8, 4, 2, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		inv := genInventory(rand.New(newByteSource(data)))
		if diffs := diffEngine(inv, allTargets, nil); len(diffs) > 0 {
			t.Errorf("engine and reference disagree:\n%s\ninventory:\n%s", strings.Join(diffs, "\n"), dumpInventory(inv))
		}
	})
}

// byteSource is a rand.Source that spends one input byte per draw, spread
// over the whole 64 bits so that IntN(n) maps byte b to about b*n/256. When
// the bytes run out it continues from a PCG seeded by them, so every input
// yields a complete case.
type byteSource struct {
	data []byte
	rest *rand.PCG
}

func newByteSource(data []byte) *byteSource {
	h := fnv.New64a()
	h.Write(data)
	return &byteSource{data: data, rest: rand.NewPCG(h.Sum64(), uint64(len(data)))}
}

func (s *byteSource) Uint64() uint64 {
	if len(s.data) == 0 {
		return s.rest.Uint64()
	}
	b := s.data[0]
	s.data = s.data[1:]
	return uint64(b) * 0x0101010101010101
}
