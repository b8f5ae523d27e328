package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// chunk is one document of a stream as the splitter cut it out: the text
// between `---` and `...` markers, with the file line it starts on.
type chunk struct {
	start    int // file line of the first line
	end      int // file line of the last line
	blocks   [][]byte
	size     int64
	oversize bool // the document grew past the limit; blocks were dropped
	badLine  int  // first line that is not valid text, or 0
	content  bool // holds something other than blanks, comments and directives
	// anchors is true when the text holds an '&', so the document may
	// declare anchors and therefore use aliases.
	anchors bool
}

// splitter cuts a stream into documents line by line, so that no document
// and no line is ever held in memory beyond the size limit.
type splitter struct {
	max        int64
	line       int // line of the next byte
	cur        *chunk
	endPending bool // the last line was a `...` marker
	check      utf8Check
	emit       func(*chunk) error
	// free holds the blocks of documents already emitted, for reuse: emit
	// is done with a chunk when it returns.
	free [][]byte
}

// split reads r to the end and calls emit for each document. It returns a
// read error, or the first error emit returned.
func split(r *bufio.Reader, max int64, emit func(*chunk) error) error {
	s := &splitter{max: max, line: 1, emit: emit, cur: &chunk{start: 1}}
	atLineStart := true
	for {
		frag, err := r.ReadSlice('\n')
		if len(frag) > 0 {
			if atLineStart {
				if err := s.lineStart(frag); err != nil {
					return err
				}
			}
			s.add(frag)
			atLineStart = frag[len(frag)-1] == '\n'
			if atLineStart {
				s.line++
			}
		}
		switch {
		case err == nil || errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return s.flush()
		default:
			return &lineError{line: s.line, err: err}
		}
	}
}

// lineStart looks at the first piece of a line for document markers. A
// document ends before a `---` line and after a `...` line.
func (s *splitter) lineStart(frag []byte) error {
	m := marker(frag)
	if s.endPending || (m == "---" && (s.cur.content || s.cur.oversize || s.cur.badLine > 0)) {
		s.endPending = false
		if err := s.flush(); err != nil {
			return err
		}
	}
	switch {
	case m == "---":
		s.cur.content = s.cur.content || hasContent(frag[3:])
	case m == "...":
		s.endPending = true
	case frag[0] != '%' && hasContent(frag):
		s.cur.content = true
	}
	return nil
}

// flush emits the current document and starts the next one at this line.
func (s *splitter) flush() error {
	c := s.cur
	s.cur = &chunk{start: s.line}
	if !s.check.done() && c.badLine == 0 && !c.oversize {
		c.badLine = c.end
	}
	c.end = max(c.end, c.start)
	var err error
	if c.content || c.oversize || c.badLine > 0 {
		err = s.emit(c)
	}
	for _, b := range c.blocks {
		s.free = append(s.free, b[:0])
	}
	c.blocks = nil
	return err
}

// add appends a piece of a line to the current document, dropping the
// document's text once it passes the limit.
func (s *splitter) add(frag []byte) {
	c := s.cur
	c.size += int64(len(frag))
	c.end = s.line
	if c.oversize {
		return
	}
	if c.size > s.max {
		c.oversize, c.blocks = true, nil
		s.check.done()
		return
	}
	if c.badLine == 0 && !s.check.feed(frag) {
		c.badLine = s.line
	}
	if !c.anchors && bytes.IndexByte(frag, '&') >= 0 {
		c.anchors = true
	}
	c.blocks = s.appendBlock(c.blocks, frag)
}

// appendBlock copies p into blocks that double in size up to the read
// buffer size, so a growing document is never copied, a small one costs
// little, and no more than one block is partly empty. Blocks of earlier
// documents are reused.
func (s *splitter) appendBlock(blocks [][]byte, p []byte) [][]byte {
	for len(p) > 0 {
		n := len(blocks)
		if n == 0 || len(blocks[n-1]) == cap(blocks[n-1]) {
			size := minBlockSize
			if n > 0 {
				size = min(2*cap(blocks[n-1]), readBufferSize)
			}
			blocks = append(blocks, s.block(size))
			n++
		}
		b := blocks[n-1]
		k := min(cap(b)-len(b), len(p))
		blocks[n-1] = append(b, p[:k]...)
		p = p[k:]
	}
	return blocks
}

// block returns an empty block of at least size bytes.
func (s *splitter) block(size int) []byte {
	if k := len(s.free); k > 0 && cap(s.free[k-1]) >= size {
		b := s.free[k-1]
		s.free = s.free[:k-1]
		return b
	}
	return make([]byte, 0, size)
}

// minBlockSize is the first block of a document.
const minBlockSize = 2 << 10

// reader returns the document's text.
func (c *chunk) reader() io.Reader {
	rs := make([]io.Reader, len(c.blocks))
	for i, b := range c.blocks {
		rs[i] = bytes.NewReader(b)
	}
	return io.MultiReader(rs...)
}

// text returns the document's text as one string.
func (c *chunk) text() string {
	if len(c.blocks) == 1 {
		return string(c.blocks[0])
	}
	var b strings.Builder
	b.Grow(int(c.size))
	for _, p := range c.blocks {
		b.Write(p)
	}
	return b.String()
}

// marker reports whether a line is a document start or end marker.
func marker(line []byte) string {
	if len(line) < 3 {
		return ""
	}
	m := string(line[:3])
	if m != "---" && m != "..." {
		return ""
	}
	if len(line) == 3 {
		return m
	}
	switch line[3] {
	case ' ', '\t', '\r', '\n':
		return m
	}
	return ""
}

// hasContent reports whether a line holds more than blanks and a comment.
func hasContent(line []byte) bool {
	t := bytes.TrimLeft(line, " \t\r\n")
	return len(t) > 0 && t[0] != '#'
}

// lineError is a read error at a line of the input.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return e.err.Error() }
func (e *lineError) Unwrap() error { return e.err }
