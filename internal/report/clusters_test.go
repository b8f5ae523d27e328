package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/imdsguard/imdsguard/internal/schematest"
)

func twoClusters() []ClusterDocument {
	return []ClusterDocument{{Cluster: "prod-eu", Document: fixtureDocument()}, {Cluster: "prod-us", Document: emptyDocument()}}
}

// TestRenderClustersJSON checks the multi-cluster wrapper against its schema,
// which refers to the scan/v1 schema for each report.
func TestRenderClustersJSON(t *testing.T) {
	var b bytes.Buffer
	if err := RenderClusters(&b, twoClusters(), FormatJSON, Options{}); err != nil {
		t.Fatal(err)
	}
	s := schematest.Compile(t, "../../docs/schema/scan-clusters-v1.json", "../../docs/schema/scan-v1.json")
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	if err := s.Validate(v); err != nil {
		t.Fatalf("multi-cluster JSON does not match its schema: %v", err)
	}
	clusters := v.(map[string]any)["clusters"].([]any)
	if len(clusters) != 2 || clusters[0].(map[string]any)["cluster"] != "prod-eu" {
		t.Fatalf("clusters = %v", clusters)
	}
	// Each report is byte-for-byte the single-cluster rendering.
	single := render(t, fixtureDocument(), FormatJSON, Options{})
	if !bytes.Contains(b.Bytes(), bytes.TrimSpace(single)) {
		t.Error("the first cluster's report differs from its single-cluster JSON")
	}
}

func TestRenderClustersSARIF(t *testing.T) {
	var b bytes.Buffer
	if err := RenderClusters(&b, twoClusters(), FormatSARIF, Options{}); err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := schematest.Compile(t, "testdata/sarif-schema-2.1.0.json").Validate(v); err != nil {
		t.Fatalf("multi-run SARIF does not match the schema: %v", err)
	}
	runs := v.(map[string]any)["runs"].([]any)
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	for i, want := range []string{"imdsguard/prod-eu/", "imdsguard/prod-us/"} {
		got := runs[i].(map[string]any)["automationDetails"].(map[string]any)["id"]
		if got != want {
			t.Errorf("run %d automationDetails.id = %v, want %s", i, got, want)
		}
	}
	first := len(runs[0].(map[string]any)["results"].([]any))
	if first != len(fixtureDocument().Findings) || len(runs[1].(map[string]any)["results"].([]any)) != 0 {
		t.Errorf("results went to the wrong run: %d in the first", first)
	}
}

func TestRenderClustersTable(t *testing.T) {
	var b bytes.Buffer
	if err := RenderClusters(&b, twoClusters(), FormatTable, Options{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	eu, us := strings.Index(out, "== cluster prod-eu =="), strings.Index(out, "== cluster prod-us ==")
	if eu < 0 || us < eu {
		t.Fatalf("cluster sections missing or out of order:\n%s", out)
	}
}
