package report

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/imdsguard/imdsguard/internal/golden"
	"github.com/imdsguard/imdsguard/internal/schematest"
)

func render(t *testing.T, d *Document, f Format, o Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, d, f, o); err != nil {
		t.Fatalf("Render(%s): %v", f, err)
	}
	return buf.Bytes()
}

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name string
		doc  func() *Document
		f    Format
		o    Options
	}{
		{"table", fixtureDocument, FormatTable, Options{}},
		{"table-color", fixtureDocument, FormatTable, Options{Color: true}},
		{"table-verbose", fixtureDocument, FormatTable, Options{Verbose: true}},
		{"json", fixtureDocument, FormatJSON, Options{}},
		{"sarif", fixtureDocument, FormatSARIF, Options{}},
		{"empty-table", emptyDocument, FormatTable, Options{}},
		{"empty-json", emptyDocument, FormatJSON, Options{}},
		{"empty-sarif", emptyDocument, FormatSARIF, Options{}},
		{"markdown", fixtureDocument, FormatMarkdown, Options{}},
		{"empty-markdown", emptyDocument, FormatMarkdown, Options{}},
		{"html", fixtureDocument, FormatHTML, Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(t, tt.doc(), tt.f, tt.o)
			if again := render(t, tt.doc(), tt.f, tt.o); !bytes.Equal(got, again) {
				t.Errorf("two renderings differ")
			}
			golden.Check(t, filepath.Join("testdata", tt.name+".golden"), string(got))
		})
	}
}

func TestRenderMatchesSchema(t *testing.T) {
	schemas := map[Format]*jsonschema.Schema{
		FormatJSON:  schematest.Compile(t, filepath.Join("..", "..", "docs", "schema", "scan-v1.json")),
		FormatSARIF: schematest.Compile(t, filepath.Join("testdata", "sarif-schema-2.1.0.json")),
	}
	docs := map[string]func() *Document{"fixture": fixtureDocument, "empty": emptyDocument}
	for name, doc := range docs {
		for f, s := range schemas {
			t.Run(name+"/"+string(f), func(t *testing.T) {
				v, err := jsonschema.UnmarshalJSON(bytes.NewReader(render(t, doc(), f, Options{})))
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Validate(v); err != nil {
					t.Errorf("output does not match the schema: %v", err)
				}
			})
		}
	}
}

// TestSchemaRejects checks that the scan schema is strict where it claims
// to be, so that TestRenderMatchesSchema means something.
func TestSchemaRejects(t *testing.T) {
	s := schematest.Compile(t, filepath.Join("..", "..", "docs", "schema", "scan-v1.json"))
	tests := []struct {
		name   string
		mutate func(*Document)
	}{
		{"unknown verdict", func(d *Document) { d.Summary.Verdicts["Maybe"] = 1 }},
		{"bad rule id", func(d *Document) { d.Findings[0].RuleID = "X-1" }},
		{"bad schema version", func(d *Document) { d.SchemaVersion = "imdsguard.io/scan/v2" }},
		{"unknown layer", func(d *Document) { d.Summary.DecidedBy["CNI"] = 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := fixtureDocument()
			tt.mutate(d)
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(render(t, d, FormatJSON, Options{})))
			if err != nil {
				t.Fatal(err)
			}
			if s.Validate(v) == nil {
				t.Errorf("schema accepted an invalid document")
			}
		})
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// Colour must only add escape codes: stripped of them, the coloured table
// is the plain one, alignment included.
func TestTableColorOnlyAddsEscapes(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		plain := render(t, fixtureDocument(), FormatTable, Options{Verbose: verbose})
		color := render(t, fixtureDocument(), FormatTable, Options{Color: true, Verbose: verbose})
		if bytes.Contains(plain, []byte("\x1b")) {
			t.Errorf("verbose=%v: plain output has escape codes", verbose)
		}
		if !bytes.Contains(color, []byte(ansiRed)) {
			t.Errorf("verbose=%v: coloured output has no red", verbose)
		}
		if diff := cmp.Diff(ansi.ReplaceAllString(string(color), ""), string(plain)); diff != "" {
			t.Errorf("verbose=%v: stripped colour output differs (-got +want):\n%s", verbose, diff)
		}
	}
}

func TestTableIncomplete(t *testing.T) {
	const line = "INCOMPLETE: 1 input errors; affected verdicts are Unknown"
	if got := render(t, fixtureDocument(), FormatTable, Options{}); !bytes.Contains(got, []byte(line)) {
		t.Errorf("incomplete scan: table lacks %q", line)
	}
	if got := render(t, emptyDocument(), FormatTable, Options{}); bytes.Contains(got, []byte("INCOMPLETE")) {
		t.Errorf("complete scan: table says INCOMPLETE")
	}
}

func TestRenderDoesNotChangeDocument(t *testing.T) {
	for _, f := range Formats() {
		d := emptyDocument()
		render(t, d, f, Options{Verbose: true})
		if diff := cmp.Diff(d, emptyDocument()); diff != "" {
			t.Errorf("%s: document changed (-got +want):\n%s", f, diff)
		}
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    Format
		wantErr string
	}{
		{"", FormatTable, ""},
		{"table", FormatTable, ""},
		{"JSON", FormatJSON, ""},
		{"sarif", FormatSARIF, ""},
		{"yaml", "", `unknown format "yaml" (want one of table, json, sarif, markdown, html)`},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.in)
		if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, %q", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, fixtureDocument(), "xml", Options{}); err == nil || !strings.Contains(err.Error(), `unknown format "xml"`) {
		t.Errorf("unknown format: err = %v", err)
	}
	if err := Render(&buf, nil, FormatJSON, Options{}); err == nil {
		t.Errorf("nil document: no error")
	}
}

func TestFileURI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"manifests/api.yaml", "manifests/api.yaml"},
		{"dir with space/a.yaml", "dir%20with%20space/a.yaml"},
		{"a:b.yaml", "./a:b.yaml"},
		{"/abs/x.yaml", "file:///abs/x.yaml"},
	}
	for _, tt := range tests {
		if got := fileURI(tt.in); got != tt.want {
			t.Errorf("fileURI(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
