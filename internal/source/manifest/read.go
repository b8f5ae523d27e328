package manifest

import (
	"context"
	"errors"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"sync"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/yamlsubset"
)

// docHooks let the two-pass index see a file's documents (chunks between
// `---` lines, numbered from 0 in file order) and choose which to decode.
type docHooks struct {
	// want, if set, says whether to decode document k; the others are
	// split off and skipped.
	want func(k int) bool
	// after, if set, is called once document k has been read into c.
	after func(k int, size int64, c *collected)
}

// read reads one input file into a collection of its objects. hooks may be
// nil.
func read(ctx context.Context, in input, opts Options, hooks *docHooks) *collected {
	c := &collected{}
	if in.err != nil {
		c.fail(in.err, "", true)
		return c
	}
	r, err := open(in, opts)
	if err != nil {
		c.fail(pathError(in.name, err), "", true)
		return c
	}
	defer r.Close()
	var bufs buffers
	defer bufs.release()
	sum := &checksum{r: r, h: crc32.NewIEEE()}
	defer func() { c.read = fileSum{crc: sum.h.Sum32(), size: sum.n} }()
	br, enc := decodeBOM(sum, &bufs)
	mem := memoryPool.Get().(*reusable)
	defer memoryPool.Put(mem)
	state := &fileState{name: in.name, enc: enc, limit: opts.MaxDocumentBytes, strs: newInterner(), yamlOnly: opts.yamlOnly,
		subset: &mem.subset, scratch: &mem.scratch}
	k := -1
	err = split(br, state.limit, func(ch *chunk) error {
		if err := ctx.Err(); err != nil {
			return &lineError{line: ch.start, err: err}
		}
		k++
		if hooks != nil && hooks.want != nil && !hooks.want(k) {
			return nil
		}
		e := decodeChunk(state, ch, func(d *doc, root *yaml.Node) {
			c.readDocument(d, root)
		})
		if e != nil {
			c.fail(e, "", true)
		}
		if hooks != nil && hooks.after != nil {
			hooks.after(k, ch.size, c)
		}
		return nil
	})
	var le *lineError
	if errors.As(err, &le) {
		c.fail(&InputError{Source: model.Source{File: in.name, Line: le.line}, Msg: "read failed: " + le.err.Error()}, "", true)
	}
	return c
}

// fileSum identifies the bytes read from a file, so that a second pass can
// tell whether the file changed in between.
type fileSum struct {
	crc  uint32
	size int64
}

// checksum sums the bytes read through it.
type checksum struct {
	r io.Reader
	h hash.Hash32
	n int64
}

func (c *checksum) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// reusable is the memory that reading a file uses and drops document by
// document; it is recycled from file to file.
type reusable struct {
	subset  yamlsubset.Parser
	scratch scratch
}

var memoryPool = sync.Pool{New: func() any { return new(reusable) }}

// open opens an input; "-" is stdin.
func open(in input, opts Options) (io.ReadCloser, error) {
	if in.path != "-" {
		return os.Open(in.path)
	}
	if opts.Stdin == nil {
		return nil, errors.New("no stdin available")
	}
	return io.NopCloser(opts.Stdin), nil
}
