package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/yamlsubset"
)

// yamlLine finds the line in a yaml.v3 error message.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// fileState is what the documents of one file share.
type fileState struct {
	name     string
	enc      string
	limit    int64
	expanded int // nodes reached through aliases so far
	strs     *interner
	yamlOnly bool // Options.yamlOnly
	subset   *yamlsubset.Parser
	scratch  *scratch
}

// decodeChunk parses the YAML documents of one chunk and calls fn with the
// root node of each. Problems with the chunk as a whole come back as an
// error: their kind and namespace cannot be known.
func decodeChunk(in *fileState, c *chunk, fn func(*doc, *yaml.Node)) *InputError {
	file := in.name
	at := model.Source{File: file, Line: c.start}
	switch {
	case c.oversize:
		return &InputError{Source: at, Msg: "document exceeds " + sizeName(in.limit) + " limit"}
	case c.badLine > 0:
		return &InputError{Source: at.At(c.badLine), Msg: "invalid " + in.enc + " text"}
	}
	if root, ok := in.subset.Parse(c.text()); ok && !in.yamlOnly {
		// Most manifests are plain block YAML, which the subset parser
		// reads several times faster than yaml.v3. It declines everything
		// else, errors included, and yaml.v3 reads it below.
		return handleDocument(in, c, root, fn)
	}
	if len(c.blocks) == 1 && singleDocument(c.blocks[0]) {
		// The common case: one small document in one block. Parsing the
		// bytes directly skips the reader machinery of a yaml.Decoder.
		var root yaml.Node
		if err := safeUnmarshal(c.blocks[0], &root); err != nil {
			return yamlError(file, c, err)
		}
		if root.Kind == 0 {
			return nil // nothing but comments
		}
		return handleDocument(in, c, &root, fn)
	}
	dec := yaml.NewDecoder(c.reader())
	for {
		var root yaml.Node
		err := safeDecode(dec, &root)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return yamlError(file, c, err)
		}
		if e := handleDocument(in, c, &root, fn); e != nil {
			return e
		}
	}
}

// handleDocument checks one decoded document's aliases and passes it on.
func handleDocument(in *fileState, c *chunk, root *yaml.Node, fn func(*doc, *yaml.Node)) *InputError {
	in.scratch.mappings.Reset()
	in.scratch.fields.Reset()
	d := &doc{file: in.name, base: c.start - 1, last: c.end, strs: in.strs, scratch: in.scratch}
	// Without an anchor there can be no alias (yaml.v3 refuses an unknown
	// one), so most documents need no expansion walk.
	if c.anchors {
		if n, msg := checkAliases(root, &in.expanded); n != nil {
			return &InputError{Source: d.source(n), Msg: msg}
		}
	}
	fn(d, root)
	return nil
}

// singleDocument reports whether b holds no document marker after its first
// line. The splitter cuts documents at markers, so this always holds; it is
// checked because yaml.Unmarshal would silently drop a second document.
func singleDocument(b []byte) bool {
	return !bytes.Contains(b, []byte("\n---")) && !bytes.Contains(b, []byte("\n..."))
}

// safeUnmarshal is safeDecode for a document held in one slice.
func safeUnmarshal(b []byte, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: parser failed: %v", r)
		}
	}()
	return yaml.Unmarshal(b, n)
}

// safeDecode turns a panic of the YAML parser into an error, so one hostile
// document cannot take the whole scan down.
func safeDecode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: parser failed: %v", r)
		}
	}()
	return dec.Decode(n)
}

// yamlError rewrites a yaml.v3 error to point at the file line.
func yamlError(file string, c *chunk, err error) *InputError {
	msg, line := err.Error(), c.start
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		line = min(max(c.start+n-1, c.start), c.end)
		msg = msg[len(m[0]):]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	return &InputError{Source: model.Source{File: file, Line: line}, Msg: "invalid YAML: " + msg}
}

// sizeName renders a byte count the way the limit flag is usually set.
func sizeName(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
