package terraform

import (
	"bytes"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// FuzzParseJSONConfig feeds arbitrary bytes to the .tf.json reader: it
// must not panic, and every error must point at a line of the input.
func FuzzParseJSONConfig(f *testing.F) {
	f.Add([]byte(`{"resource": {"aws_launch_template": {"a": {"metadata_options": {"http_tokens": "${var.t}"}}}}}`))
	f.Add([]byte(`{"variable": {"t": {"default": [1, {"a": null}], "type": "list(any)"}}, "locals": [{"x": true}]}`))
	f.Add([]byte(`{"resource": {"google_container_node_pool": {"p": {"node_config": [{"dynamic": {"x": {"content": {}}}}]}}}}`))
	f.Add([]byte("{\"a\": \"\\u00e9\\\"\", \"b\": -1.5e3}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, diags := parseJSONConfig(data, "f.tf.json")
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, d := range diags {
			if d.Severity != hcl.DiagError {
				continue
			}
			if d.Subject == nil || d.Subject.Start.Line < 1 || d.Subject.Start.Line > lines {
				t.Errorf("error without a line of the input: %v", d)
			}
		}
	})
}

func TestJSONTemplateErrorLine(t *testing.T) {
	_, diags := parseJSONConfig([]byte("{\"locals\": {\n\"a\": \"\\n\\n\\n${\"}}"), "f.tf.json")
	if !diags.HasErrors() || diags[0].Subject.Start.Line != 2 {
		t.Errorf("diagnostics %v, want an error at line 2", diags)
	}
}
