package manifest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader as stdin: it must not panic,
// every error must point at a line of the input, the subset parser must
// read it as yaml.v3 does, and two passes (LoadIndex, then every group)
// must read what one does.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(billionLaughs()))
	f.Add([]byte(mergeBomb()))
	f.Add([]byte("a: &a [*a]\n---\n...\n--- |\n  x\n"))
	f.Add([]byte("\xff\xfe-\x00-\x00-\x00\n\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res := Load(context.Background(), []string{"-"}, Options{Stdin: bytes.NewReader(data), MaxDocumentBytes: 1 << 16})
		// CR and LF both break lines, so their count bounds the line numbers.
		lines := bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r")) + 1
		for _, e := range res.Errors {
			if e.Source.File != stdinName || e.Source.Line < 1 || e.Source.Line > lines+1 {
				t.Errorf("error without a valid file:line: %q (input has %d lines)", e.Error(), lines)
			}
		}
		if len(res.Errors) > 0 && len(res.Inventory.Incomplete) == 0 {
			if !onlyHarmless(res) {
				t.Errorf("errors %v but nothing marked incomplete", res.Errors)
			}
		}
		loadBoth(t, []string{"-"}, data)
		stdin := func() Options { return Options{Stdin: bytes.NewReader(data), MaxDocumentBytes: 1 << 16} }
		if one, two, _ := twoPasses(t, []string{"-"}, stdin, 1); render(one) != render(two) {
			t.Errorf("two passes read differently from one:\n%s\n---\n%s", render(one), render(two))
		}
	})
}

// onlyHarmless reports whether every error is about an object of a kind
// that cannot change a verdict, which need not mark anything incomplete.
func onlyHarmless(res *Result) bool {
	for _, e := range res.Errors {
		if e.Object.Kind == "" || classify(e.Object.APIVersion, e.Object.Kind) != classUnknown {
			return false
		}
	}
	return true
}
