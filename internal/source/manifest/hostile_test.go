package manifest

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// genReader yields a head, then body repeated until size bytes are out,
// then a tail, without ever holding more than one copy of each in memory.
type genReader struct {
	parts []string
	size  int64
	sent  int64
	state int // 0 head, 1 body, 2 tail
	pos   int
}

func newGen(head, body, tail string, size int64) *genReader {
	return &genReader{parts: []string{head, body, tail}, size: size}
}

func (g *genReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if g.state == 1 && g.pos == 0 && g.sent >= g.size {
			g.state, g.pos = 2, 0
		}
		if g.state > 2 {
			break
		}
		part := g.parts[g.state]
		k := copy(p[n:], part[g.pos:])
		n += k
		g.pos += k
		g.sent += int64(k)
		if g.pos == len(part) {
			g.pos = 0
			if g.state != 1 {
				g.state++
			}
		}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// loadStdin loads a stream as stdin and returns the result, the time taken
// and the bytes allocated meanwhile.
// hostileTimeLimit bounds the wall time of one hostile load. The inputs
// that get through a missing guard run for minutes or exhaust memory (the
// allocation bounds catch that too); the limit is loose so that a shared,
// loaded CI machine does not fail a correct loader (5 s was seen at a load
// average of 16).
const hostileTimeLimit = 30 * time.Second

func loadStdin(t *testing.T, r io.Reader, opts Options) (*Result, time.Duration, uint64) {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	opts.Stdin = r
	res := Load(context.Background(), []string{"-"}, opts)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	return res, took, after.TotalAlloc - before.TotalAlloc
}

const trailer = "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: survivor, namespace: after}\n"

func TestHostileInput(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name     string
		input    func() io.Reader
		wantErr  string
		wantLine int
		// survivor is true when a valid document follows the hostile one
		// and must still be read.
		survivor bool
		maxAlloc uint64
	}{{
		name: "100 MB document",
		input: func() io.Reader {
			return newGen("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n", "  key0123456789: value0123456789\n", trailer, 100*mb)
		},
		wantErr: "document exceeds 32 MiB limit", wantLine: 1, survivor: true, maxAlloc: 48 * mb,
	}, {
		name: "100 MB single line",
		input: func() io.Reader {
			return newGen("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {k: ", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "}\n"+trailer, 100*mb)
		},
		wantErr: "document exceeds 32 MiB limit", wantLine: 1, survivor: true, maxAlloc: 48 * mb,
	}, {
		name: "100 MB without newlines after a marker",
		input: func() io.Reader {
			return newGen("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: first, namespace: after}\n---\n", "x", "", 100*mb)
		},
		wantErr: "document exceeds 32 MiB limit", wantLine: 4, maxAlloc: 48 * mb,
	}, {
		name: "nesting depth 100000",
		input: func() io.Reader {
			return strings.NewReader(strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n" + trailer)
		},
		wantErr: "exceeded max depth", wantLine: 1, survivor: true,
	}, {
		name:    "nested flow mappings",
		input:   func() io.Reader { return strings.NewReader("a: " + strings.Repeat("{a: ", 100000) + "\n" + trailer) },
		wantErr: "exceeded max depth", wantLine: 1, survivor: true,
	}, {
		name:    "billion laughs",
		input:   func() io.Reader { return strings.NewReader(billionLaughs() + trailer) },
		wantErr: "too many alias expansions (YAML alias bomb?)", wantLine: 10, survivor: true,
	}, {
		name:    "merge key bomb",
		input:   func() io.Reader { return strings.NewReader(mergeBomb() + trailer) },
		wantErr: "too many alias expansions (YAML alias bomb?)", survivor: true,
	}, {
		name: "invalid UTF-8",
		input: func() io.Reader {
			return strings.NewReader("apiVersion: v1\nkind: Pod\nmetadata:\n  name: \xc3\x28\n" + trailer)
		},
		wantErr: "invalid UTF-8 text", wantLine: 4, survivor: true,
	}, {
		name:    "truncated UTF-8 at end of input",
		input:   func() io.Reader { return strings.NewReader("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\xe2\x82") },
		wantErr: "invalid UTF-8 text", wantLine: 4,
	}, {
		name:    "lone UTF-16 surrogate",
		input:   func() io.Reader { return strings.NewReader("\xff\xfea\x00:\x00 \x00\x00\xd8\n\x00") },
		wantErr: "invalid UTF-16 text", wantLine: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, took, alloc := loadStdin(t, tt.input(), Options{})
			if took > hostileTimeLimit {
				t.Errorf("took %v", took)
			}
			if tt.maxAlloc > 0 && alloc > tt.maxAlloc {
				t.Errorf("allocated %d MiB, want at most %d MiB", alloc>>20, tt.maxAlloc>>20)
			}
			if len(res.Errors) != 1 {
				t.Fatalf("want one error, got %v", res.Errors)
			}
			e := res.Errors[0]
			if !strings.Contains(e.Msg, tt.wantErr) || e.Source.File != stdinName || (tt.wantLine > 0 && e.Source.Line != tt.wantLine) {
				t.Errorf("error %q, want %s:%d: ...%s", e, stdinName, tt.wantLine, tt.wantErr)
			}
			if _, ok := res.Inventory.Incomplete[""]; !ok {
				t.Errorf("whole inventory not marked incomplete: %v", res.Inventory.Incomplete)
			}
			if got := len(res.Inventory.ServiceAccounts); tt.survivor && got != 1 {
				t.Errorf("the document after the hostile one was not read (%d service accounts)", got)
			}
		})
	}
}

// billionLaughs returns the classic exponential alias document, placed in
// a Pod's labels.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Pod\nmetadata:\n  name: lol\nlols:\n")
	b.WriteString("  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 10; i++ {
		p := fmt.Sprintf("*a%d", i-1)
		fmt.Fprintf(&b, "  a%d: &a%d [%s]\n", i, i, strings.Repeat(p+", ", 9)+p)
	}
	return b.String()
}

// mergeBomb builds mappings that each merge the previous one twice.
func mergeBomb() string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ServiceAccount\nm0: &m0 {k: v}\n")
	for i := 1; i < 40; i++ {
		fmt.Fprintf(&b, "m%d: &m%d {<<: [*m%d, *m%d], k%d: v}\n", i, i, i-1, i-1, i)
	}
	b.WriteString("metadata:\n  <<: *m39\n  name: x\n")
	return b.String()
}

// TestOversizeLimitOption checks that a smaller limit is honoured and named.
func TestOversizeLimitOption(t *testing.T) {
	in := newGen("a:\n", "  - xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", trailer, 10<<20)
	res, _, alloc := loadStdin(t, in, Options{MaxDocumentBytes: 1 << 20})
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "<stdin>:1: document exceeds 1 MiB limit") {
		t.Fatalf("errors %v", res.Errors)
	}
	if alloc > 8<<20 {
		t.Errorf("allocated %d MiB for a 1 MiB limit", alloc>>20)
	}
}

// TestManySmallBombs checks that documents each just under the alias limit
// cannot add up to a slow load.
func TestManySmallBombs(t *testing.T) {
	doc := "a: &a [" + strings.Repeat("x, ", 100) + "x]\nb: [" + strings.Repeat("*a, ", 9000) + "*a]\n---\n"
	res, took, _ := loadStdin(t, strings.NewReader(strings.Repeat(doc, 40)), Options{})
	if took > hostileTimeLimit {
		t.Errorf("took %v", took)
	}
	i := slices.IndexFunc(res.Errors, func(e *InputError) bool { return strings.Contains(e.Msg, "alias bomb") })
	if i < 0 {
		t.Fatalf("want alias bomb errors, got %v", res.Errors)
	}
	if first := res.Errors[i].Source.Line; first < 10 {
		t.Errorf("the first documents are within budget, yet line %d failed", first)
	}
}

// TestBadTextStaysInItsDocument checks that invalid text in a comment-only
// document does not take the next document down with it.
func TestBadTextStaysInItsDocument(t *testing.T) {
	res, _, _ := loadStdin(t, strings.NewReader("# caf\xe9\n"+trailer), Options{})
	if len(res.Errors) != 1 || res.Errors[0].Error() != "<stdin>:1: invalid UTF-8 text" {
		t.Errorf("errors: %v", res.Errors)
	}
	if len(res.Inventory.ServiceAccounts) != 1 {
		t.Errorf("the valid document was not read")
	}
}
