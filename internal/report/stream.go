package report

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/imdsguard/imdsguard/internal/rules"
)

// Stream renders a report whose workloads and findings arrive one group of
// namespaces at a time (scan.Plan), without holding them all. Each
// namespace's workloads and findings are encoded as they arrive, into a
// temporary file; Close writes the report from the final document and those
// pieces, namespace by namespace in sorted order, so that the output is the
// bytes Render writes for the whole document. Table, JSON and SARIF stream;
// Markdown and HTML summarise the whole cluster and need it in memory.
type Stream struct {
	w      io.Writer
	format Format
	o      Options
	spill  *os.File
	buf    *bufio.Writer
	off    int64
	pieces map[string]*nsPieces
	// targets are those of the scan, for table sections.
	targets []Target
	// index numbers the rules, for SARIF results.
	index map[string]int
	// known are the report's namespaces, the only ones a part may hold.
	known map[string]bool
}

// span is a run of encoded items in the spill file.
type span struct {
	off, n int64
	items  int
}

// nsPieces are one namespace's encoded workloads and findings; a table
// keeps its whole section in section.
type nsPieces struct {
	workloads, findings, section span
}

// CanStream reports whether f can be rendered by a Stream.
func CanStream(f Format) bool {
	return f == FormatTable || f == FormatJSON || f == FormatSARIF || f == ""
}

// NewStream starts a report in format f. head is the scan's document
// without workloads; its targets and rules are those of every part.
func NewStream(w io.Writer, f Format, o Options, head *Document) (*Stream, error) {
	if !CanStream(f) {
		return nil, fmt.Errorf("rendering %s: this format needs the whole report in memory", f)
	}
	spill, err := os.CreateTemp("", "imdsguard-report-*")
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", f, err)
	}
	s := &Stream{w: w, format: f, o: o, spill: spill, buf: bufio.NewWriterSize(spill, 1<<16),
		pieces: map[string]*nsPieces{}, targets: metadataTargets(head), index: map[string]int{}}
	for i, r := range head.Rules {
		s.index[r.ID] = i
	}
	s.known = make(map[string]bool, len(head.Namespaces))
	for _, ns := range head.Namespaces {
		s.known[ns] = true
	}
	return s, nil
}

// Add encodes the workloads and findings of one part: a document holding
// the namespaces of a group (Namespaces), and their workloads and findings,
// sorted as in a whole document. Each namespace must arrive once.
func (s *Stream) Add(part *Document) error {
	byNS := groupByNamespace(part)
	for _, ns := range namespaceOrder(byNS) {
		if ns == "" {
			return fmt.Errorf("rendering %s: a part holds cluster-scoped findings", s.format)
		}
		if !s.known[ns] {
			return fmt.Errorf("rendering %s: namespace %q is not in the report's list", s.format, ns)
		}
		if s.pieces[ns] != nil {
			return fmt.Errorf("rendering %s: namespace %q arrived twice", s.format, ns)
		}
		g, p := byNS[ns], &nsPieces{}
		s.pieces[ns] = p
		var err error
		switch s.format {
		case FormatJSON:
			enc := newWorkloadEncoder("    ")
			if p.workloads, err = s.encoded(len(g.workloads), func(i int) ([]byte, error) { return enc.encode(g.workloads[i]) }); err == nil {
				p.findings, err = s.items(len(g.findings), func(i int) any { return *g.findings[i] }, "    ")
			}
		case FormatSARIF:
			p.findings, err = s.items(len(g.findings), func(i int) any { return indexedResult(*g.findings[i], s.index) }, "        ")
		default:
			start := s.off
			t := s.tableWriter(countingWriter{s})
			t.namespace(ns, g)
			err = t.err
			p.section = span{off: start, n: s.off - start}
		}
		if err != nil {
			return fmt.Errorf("rendering %s: %w", s.format, err)
		}
	}
	return nil
}

// Close writes the report. final is the scan's document without workloads;
// its findings are the cluster-scoped ones, its summary the whole scan's.
// The temporary file is removed whatever happens.
func (s *Stream) Close(final *Document) (err error) {
	defer s.discard()
	if err := s.buf.Flush(); err != nil {
		return fmt.Errorf("rendering %s: %w", s.format, err)
	}
	namespaces := final.Namespaces // sorted, and every part's are among them (Add)
	switch s.format {
	case FormatJSON:
		err = s.closeJSON(final, namespaces)
	case FormatSARIF:
		err = s.closeSARIF(final, namespaces)
	default:
		err = s.closeTable(final, namespaces)
	}
	if err != nil {
		return fmt.Errorf("rendering %s: %w", s.format, err)
	}
	return nil
}

// Abort removes the temporary file of a report that will not be closed.
func (s *Stream) Abort() { s.discard() }

func (s *Stream) discard() {
	if s.spill != nil {
		_ = s.spill.Close()
		_ = os.Remove(s.spill.Name())
		s.spill = nil
	}
}

func (s *Stream) closeJSON(final *Document, namespaces []string) error {
	h := *final
	cluster := h.Findings
	h.Workloads, h.Findings = nil, nil
	head, err := marshalIndent(normalized(&h), "")
	if err != nil {
		return err
	}
	return writeStreamed(s.w, head, []streamedArray{
		{indent: "  ", key: "workloads", each: s.replay(namespaces, func(p *nsPieces) span { return p.workloads }, "    ", nil)},
		{indent: "  ", key: "findings", each: s.replay(namespaces, func(p *nsPieces) span { return p.findings }, "    ", anys(cluster, nil))},
	})
}

func (s *Stream) closeSARIF(final *Document, namespaces []string) error {
	h := *final
	cluster := h.Findings
	h.Findings = nil
	run, index := sarifRunOf(ClusterDocument{Document: &h})
	log := sarifLog{Schema: sarifSchemaURI, Version: sarifVersion, Runs: []sarifRun{run}}
	head, err := marshalIndent(log, "")
	if err != nil {
		return err
	}
	return writeStreamed(s.w, head, []streamedArray{{indent: "      ", key: "results",
		each: s.replay(namespaces, func(p *nsPieces) span { return p.findings }, "        ",
			anys(cluster, func(f rules.Finding) any { return indexedResult(f, index) }))}})
}

func (s *Stream) closeTable(final *Document, namespaces []string) error {
	bw := bufio.NewWriterSize(s.w, 1<<16)
	t := s.tableWriter(bw)
	t.targets = metadataTargets(final)
	t.legend()
	for _, ns := range namespaces {
		p := s.pieces[ns]
		if p == nil {
			t.namespace(ns, &nsGroup{})
			continue
		}
		if t.err == nil {
			_, t.err = io.Copy(bw, io.NewSectionReader(s.spill, p.section.off, p.section.n))
		}
	}
	if len(final.Findings) > 0 {
		g := &nsGroup{}
		for i := range final.Findings {
			g.findings = append(g.findings, &final.Findings[i])
		}
		t.namespace("", g)
	}
	t.problems(final)
	t.summary(final)
	if t.err != nil {
		return t.err
	}
	return bw.Flush()
}

func (s *Stream) tableWriter(w io.Writer) *tableWriter {
	return &tableWriter{w: w, p: painter(s.o.Color), verbose: s.o.Verbose, targets: s.targets}
}

// itemEnd ends each encoded item in the spill file: JSON encoding escapes
// every control character, so the byte never occurs inside an item.
const itemEnd = 0

// items encodes n items into the spill file, as elements of a streamed
// array indented by inner.
func (s *Stream) items(n int, item func(int) any, inner string) (span, error) {
	return s.encoded(n, func(i int) ([]byte, error) { return encodeItem(item(i), inner) })
}

// encoded writes n encoded items to the spill file, each ended by itemEnd.
func (s *Stream) encoded(n int, enc func(int) ([]byte, error)) (span, error) {
	sp := span{off: s.off, items: n}
	for i := range n {
		b, err := enc(i)
		if err != nil {
			return sp, err
		}
		if _, err := s.buf.Write(append(b, itemEnd)); err != nil {
			return sp, err
		}
		s.off += int64(len(b) + 1)
	}
	sp.n = s.off - sp.off
	return sp, nil
}

// replay returns the elements of an array: first the items given (the
// cluster-scoped ones), then each namespace's encoded items, in order.
func (s *Stream) replay(namespaces []string, which func(*nsPieces) span, inner string, first []any) func(func([]byte) error) error {
	return func(emit func([]byte) error) error {
		for _, v := range first {
			b, err := encodeItem(v, inner)
			if err != nil {
				return err
			}
			if err := emit(b); err != nil {
				return err
			}
		}
		for _, ns := range namespaces {
			p := s.pieces[ns]
			if p == nil {
				continue
			}
			sp := which(p)
			r := bufio.NewReaderSize(io.NewSectionReader(s.spill, sp.off, sp.n), 1<<16)
			for range sp.items {
				b, err := r.ReadBytes(itemEnd)
				if err != nil {
					return err
				}
				if err := emit(b[:len(b)-1]); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// countingWriter writes to the spill file, counting the offset.
type countingWriter struct{ s *Stream }

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.s.buf.Write(b)
	c.s.off += int64(n)
	return n, err
}

// anys converts findings to the values to encode, as they are by default.
func anys(fs []rules.Finding, conv func(rules.Finding) any) []any {
	out := make([]any, len(fs))
	for i, f := range fs {
		if conv == nil {
			out[i] = f
		} else {
			out[i] = conv(f)
		}
	}
	return out
}
