package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// renderJSON writes the document as indented JSON. encoding/json sorts map
// keys, and nil lists become [], so the same document always renders to the
// same bytes and always matches docs/schema/scan-v1.json.
//
// The workloads and findings are streamed one element at a time: a large
// cluster's report can be hundreds of megabytes, and encoding/json would
// otherwise hold all of it in memory. The bytes are the same as encoding the
// whole document at once.
func renderJSON(w io.Writer, d *Document) error {
	h := *d
	h.Workloads, h.Findings = nil, nil
	head := normalized(&h)
	b, err := marshalIndent(head, "")
	if err != nil {
		return err
	}
	return writeStreamed(w, b, []streamedArray{
		{indent: "  ", key: "workloads", each: newWorkloadEncoder("    ").all(d.Workloads)},
		{indent: "  ", key: "findings", n: len(d.Findings), item: func(i int) any { return d.Findings[i] }},
	})
}

// ClustersVersion names the multi-cluster JSON format: one scan/v1 document
// per cluster. Its schema is docs/schema/scan-clusters-v1.json.
const ClustersVersion = "imdsguard.io/scan-clusters/v1"

// renderJSONClusters writes {"schemaVersion", "clusters": [{"cluster",
// "report"}]}, each report a complete scan/v1 document, streamed.
func renderJSONClusters(w io.Writer, docs []ClusterDocument) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	fmt.Fprintf(bw, "{\n  \"schemaVersion\": %q,\n  \"clusters\": [", ClustersVersion)
	for i, cd := range docs {
		if i > 0 {
			bw.WriteString(",")
		}
		name, err := marshalIndent(cd.Cluster, "")
		if err != nil {
			return err
		}
		fmt.Fprintf(bw, "\n    {\n      \"cluster\": %s,\n      \"report\": ", bytes.TrimSpace(name))
		if err := renderJSON(bw, cd.Document); err != nil {
			return err
		}
		bw.WriteString("    }")
	}
	bw.WriteString("\n  ]\n}\n")
	return bw.Flush()
}

// streamedArray is a list written element by element into an indented JSON
// document whose encoding holds it as `"key": []` at the given indentation.
// Its elements are item(0) .. item(n-1), or, when each is set, the encoded
// elements each passes to emit (see encodeItem).
type streamedArray struct {
	indent string
	key    string
	n      int
	item   func(int) any
	each   func(emit func([]byte) error) error
}

// writeStreamed writes the head document with each empty array replaced by
// its elements, giving the bytes MarshalIndent would give the whole value.
func writeStreamed(w io.Writer, head []byte, arrays []streamedArray) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	rest := string(head)
	for _, arr := range arrays {
		marker := "\n" + arr.indent + "\"" + arr.key + "\": []"
		i := strings.Index(rest, marker)
		if i < 0 {
			return fmt.Errorf("json: no %s field in the document", arr.key)
		}
		bw.WriteString(rest[:i])
		rest = rest[i+len(marker):]
		if err := arr.write(bw); err != nil {
			return err
		}
	}
	bw.WriteString(rest)
	return bw.Flush()
}

func (a streamedArray) write(w *bufio.Writer) error {
	w.WriteString("\n" + a.indent + "\"" + a.key + "\": [")
	inner := a.indent + "  "
	count := 0
	emit := func(b []byte) error {
		if count > 0 {
			w.WriteString(",")
		}
		count++
		w.WriteString("\n" + inner)
		_, err := w.Write(b)
		return err
	}
	each := a.each
	if each == nil {
		each = func(emit func([]byte) error) error {
			for i := 0; i < a.n; i++ {
				b, err := encodeItem(a.item(i), inner)
				if err != nil {
					return err
				}
				if err := emit(b); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if err := each(emit); err != nil {
		return err
	}
	if count == 0 {
		w.WriteString("]")
		return nil
	}
	w.WriteString("\n" + a.indent + "]")
	return nil
}

// encodeItem encodes one element of a streamed array whose elements are
// indented by inner.
func encodeItem(v any, inner string) ([]byte, error) {
	b, err := marshalIndent(v, inner)
	return bytes.TrimSuffix(b, []byte("\n")), err
}

func marshalIndent(v any, prefix string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent(prefix, "  ")
	// Messages quote "&", "<" and ">" often enough that escaping them would
	// hurt readability; the output is never embedded in HTML.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// normalized returns a copy of d in which no list or map that the schema
// requires is nil. d itself is not changed.
func normalized(d *Document) *Document {
	n := *d
	n.Clouds = orEmpty(d.Clouds)
	n.Inputs = orEmpty(d.Inputs)
	n.Namespaces = orEmpty(d.Namespaces)
	n.Warnings = orEmpty(d.Warnings)
	n.Findings = orEmpty(d.Findings)
	n.Errors = orEmpty(d.Errors)
	n.UnknownKinds = mapOrEmpty(d.UnknownKinds)
	n.Summary.Verdicts = mapOrEmpty(d.Summary.Verdicts)
	n.Summary.DecidedBy = mapOrEmpty(d.Summary.DecidedBy)
	n.Summary.Findings = mapOrEmpty(d.Summary.Findings)

	n.Targets = make([]Target, len(d.Targets))
	for i, t := range d.Targets {
		t.Endpoints = orEmpty(t.Endpoints)
		n.Targets[i] = t
	}
	n.Workloads = make([]Workload, len(d.Workloads))
	for i, wl := range d.Workloads {
		n.Workloads[i] = normalizedWorkload(wl)
	}
	n.Rules = make([]Rule, len(d.Rules))
	for i, r := range d.Rules {
		r.References = orEmpty[rules.Reference](r.References)
		n.Rules[i] = r
	}
	return &n
}

// workloadEncoder encodes workloads as elements of the workloads array,
// each shared verdicts slice once. Workloads whose pods meet the same
// policies share one (scan's Document does that, within a namespace), and
// verdicts with their traces are most of the report. The cache holds one
// namespace's.
type workloadEncoder struct {
	inner    string
	ns       string
	verdicts map[verdictsKey][]byte
}

type verdictsKey struct {
	first *Verdict
	n     int
}

func newWorkloadEncoder(inner string) *workloadEncoder {
	return &workloadEncoder{inner: inner, verdicts: map[verdictsKey][]byte{}}
}

// emptyVerdicts is how a workload encoded without verdicts ends.
var emptyVerdicts = []byte(`"verdicts": []`)

// encode gives the bytes encodeItem gives for normalizedWorkload(w).
func (e *workloadEncoder) encode(w *Workload) ([]byte, error) {
	if w.Object.Namespace != e.ns {
		e.ns = w.Object.Namespace
		clear(e.verdicts)
	}
	vs := w.Verdicts
	head := *w
	head.Verdicts = nil
	b, err := encodeItem(normalizedWorkload(head), e.inner)
	if err != nil || len(vs) == 0 {
		return b, err
	}
	key := verdictsKey{&vs[0], len(vs)}
	enc, ok := e.verdicts[key]
	if !ok {
		if enc, err = encodeItem(normalizedWorkload(Workload{Verdicts: vs}).Verdicts, e.inner+"  "); err != nil {
			return nil, err
		}
		e.verdicts[key] = enc
	}
	i := bytes.LastIndex(b, emptyVerdicts)
	if i < 0 {
		return nil, fmt.Errorf("json: no verdicts in an encoded workload")
	}
	out := make([]byte, 0, len(b)+len(enc))
	out = append(append(append(out, b[:i+len(emptyVerdicts)-2]...), enc...), b[i+len(emptyVerdicts):]...)
	return out, nil
}

// all returns the elements of a workloads array, for streamedArray.each.
func (e *workloadEncoder) all(ws []Workload) func(func([]byte) error) error {
	return func(emit func([]byte) error) error {
		for i := range ws {
			b, err := e.encode(&ws[i])
			if err != nil {
				return err
			}
			if err := emit(b); err != nil {
				return err
			}
		}
		return nil
	}
}

func normalizedWorkload(wl Workload) Workload {
	wl.Policies = orEmpty(wl.Policies)
	vs := make([]Verdict, len(wl.Verdicts))
	for j, v := range wl.Verdicts {
		v.Trace = orEmpty[reach.Step](v.Trace)
		vs[j] = v
	}
	wl.Verdicts = vs
	return wl
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func mapOrEmpty[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}
