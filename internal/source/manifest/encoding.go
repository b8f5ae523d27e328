package manifest

import (
	"bufio"
	"io"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// readBufferSize is the bufio buffer for every input, and so also the
// longest piece of a line that is ever held outside a document buffer.
const readBufferSize = 64 << 10

// decodeBOM looks at the start of r for a byte order mark and returns a
// reader of UTF-8 text with LF line breaks, and the name of the encoding
// it found. Its buffers come from bufs.
func decodeBOM(r io.Reader, bufs *buffers) (*bufio.Reader, string) {
	br, enc := transcode(r, bufs)
	return bufs.reader(&newlineReader{r: br}), enc
}

// transcode returns a reader of the UTF-8 text in r.
func transcode(r io.Reader, bufs *buffers) (*bufio.Reader, string) {
	br := bufs.reader(r)
	head, _ := br.Peek(3)
	switch {
	case len(head) >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF:
		_, _ = br.Discard(3)
		return br, "UTF-8"
	case len(head) >= 2 && head[0] == 0xFF && head[1] == 0xFE:
		_, _ = br.Discard(2)
		return bufs.reader(&utf16Reader{r: br, little: true}), "UTF-16"
	case len(head) >= 2 && head[0] == 0xFE && head[1] == 0xFF:
		_, _ = br.Discard(2)
		return bufs.reader(&utf16Reader{r: br}), "UTF-16"
	}
	return br, "UTF-8"
}

// readerPool recycles read buffers: a scan reads hundreds of files, each
// through two or three of them.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// buffers are the read buffers of one file, handed back when it is read.
type buffers []*bufio.Reader

// reader returns a buffered reader of r.
func (bs *buffers) reader(r io.Reader) *bufio.Reader {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r)
	*bs = append(*bs, br)
	return br
}

// release hands the buffers back.
func (bs *buffers) release() {
	for _, br := range *bs {
		br.Reset(nil)
		readerPool.Put(br)
	}
	*bs = nil
}

// utf16Reader transcodes UTF-16 to UTF-8 as a stream. Code units that do not
// form a character (a lone surrogate, an odd trailing byte) become the byte
// 0xFF, which is never valid UTF-8, so the document check reports the line.
type utf16Reader struct {
	r      *bufio.Reader
	little bool
	high   rune // a high surrogate waiting for its pair, or 0
	out    []byte
	in     [4096]byte
	err    error
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for len(u.out) == 0 {
		if u.err != nil {
			return 0, u.err
		}
		u.fill()
	}
	n := copy(p, u.out)
	u.out = u.out[n:]
	return n, nil
}

// fill decodes the next block of input into u.out.
func (u *utf16Reader) fill() {
	n, err := io.ReadFull(u.r, u.in[:])
	u.out = u.out[:0]
	for i := 0; i+1 < n; i += 2 {
		u.unit(u.in[i], u.in[i+1])
	}
	if err != nil {
		if u.high != 0 {
			u.out = append(u.out, 0xFF)
		}
		if n%2 == 1 {
			u.out = append(u.out, 0xFF)
		}
		u.err = err
		if err == io.ErrUnexpectedEOF {
			u.err = io.EOF
		}
	}
}

func (u *utf16Reader) unit(a, b byte) {
	c := rune(a)<<8 | rune(b)
	if u.little {
		c = rune(b)<<8 | rune(a)
	}
	switch {
	case u.high != 0:
		r := utf16.DecodeRune(u.high, c)
		u.high = 0
		if r == utf8.RuneError {
			u.out = append(u.out, 0xFF)
			u.unit(a, b)
			return
		}
		u.out = utf8.AppendRune(u.out, r)
	case c >= 0xD800 && c < 0xDC00:
		u.high = c
	case c >= 0xDC00 && c < 0xE000:
		u.out = append(u.out, 0xFF)
	default:
		u.out = utf8.AppendRune(u.out, c)
	}
}
