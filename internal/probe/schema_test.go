package probe_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/probe"
	"github.com/imdsguard/imdsguard/internal/report"
)

var update = flag.Bool("update", false, "rewrite docs/schema/probe-v1.json")

// probeSchema derives the probe document's schema from the scan's: the
// same document, its own version, and the two trace layers a probe adds.
func probeSchema(t *testing.T, scan string) string {
	t.Helper()
	out := scan
	for _, r := range [][2]string{
		{`"$id": "https://imdsguard.io/schema/scan-v1.json"`, `"$id": "https://imdsguard.io/schema/probe-v1.json"`},
		{`"title": "imdsguard scan result, ` + report.SchemaVersion + `"`, `"title": "imdsguard probe result, ` + probe.DocumentVersion + `"`},
		{"\"description\": \"The output of `imdsguard scan --format json`. See docs/json-output.md.\"",
			"\"description\": \"The output of `imdsguard probe --format json`: a scan document whose verdicts are the probes'. Generated from scan-v1.json; see docs/probe.md.\""},
		{`"schemaVersion": { "const": "` + report.SchemaVersion + `" }`, `"schemaVersion": { "const": "` + probe.DocumentVersion + `" }`},
		{`"NodeSettings", "Input"`, `"NodeSettings", "Input",` + "\n        \"" + string(probe.LayerProbe) + `", "` + string(probe.LayerStatic) + `"`},
	} {
		if strings.Count(out, r[0]) != 1 {
			t.Fatalf("scan-v1.json: want %q once; update this derivation", r[0])
		}
		out = strings.Replace(out, r[0], r[1], 1)
	}
	return out
}

// TestSchemaIsCurrent holds docs/schema/probe-v1.json to the scan schema
// it is derived from; `make docs` rewrites it.
func TestSchemaIsCurrent(t *testing.T) {
	dir := filepath.Join("..", "..", "docs", "schema")
	scan, err := os.ReadFile(filepath.Join(dir, "scan-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := probeSchema(t, string(scan))
	path := filepath.Join(dir, "probe-v1.json")
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: run make docs", path)
	}
}
