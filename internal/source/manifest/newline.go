package manifest

import "io"

// newlineReader turns CRLF and lone CR line breaks into LF. YAML reads all
// three as one line break, so this changes no meaning, and it lets the
// splitter count lines the way the YAML parser does.
type newlineReader struct {
	r      io.Reader
	skipLF bool // the last byte was a CR, already emitted as LF
}

func (n *newlineReader) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		w := 0
		for _, b := range p[:k] {
			switch {
			case b == '\n' && n.skipLF:
				n.skipLF = false
				continue
			case b == '\r':
				b, n.skipLF = '\n', true
			default:
				n.skipLF = false
			}
			p[w] = b
			w++
		}
		if w > 0 || err != nil {
			return w, err
		}
	}
}
