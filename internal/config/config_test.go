package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/config"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// header is the two lines every valid file starts with; suppressions then
// begin on line 3.
const header = "apiVersion: imdsguard.io/v1alpha1\nkind: ScanConfig\n"

func TestParse(t *testing.T) {
	at := func(line int) model.Source { return model.Source{File: "cfg.yaml", Line: line} }
	tests := []struct {
		name string
		in   string
		want []rules.ConfigSuppression
	}{
		{
			name: "no suppressions",
			in:   header,
			want: []rules.ConfigSuppression{},
		},
		{
			name: "one entry with every field",
			in: header + `suppressions:
- rule: IMDS-002
  namespace: monitoring
  kind: DaemonSet
  name: node-exporter
  reason: reads node metrics
`,
			want: []rules.ConfigSuppression{{Rule: "IMDS-002", Namespace: "monitoring", Kind: "DaemonSet",
				Name: "node-exporter", Reason: "reads node metrics", Source: at(4)}},
		},
		{
			name: "patterns are kept as written",
			in: header + `suppressions:
- rule: IMDS-001
  namespace: "team-*"
  kind: "[DS]*"
  name: "batch-?"
  reason: isolated VPC
`,
			want: []rules.ConfigSuppression{{Rule: "IMDS-001", Namespace: "team-*", Kind: "[DS]*", Name: "batch-?",
				Reason: "isolated VPC", Source: at(4)}},
		},
		{
			name: "several entries carry their own lines",
			in: header + `suppressions:
# the CNI
- rule: IMDS-002
  namespace: kube-system
  reason: CNI agent

- reason: legacy app, tracked in SEC-7
  rule: IMDS-001
  name: legacy
- {rule: IMDS-003, namespace: sandbox, reason: throwaway}
`,
			want: []rules.ConfigSuppression{
				{Rule: "IMDS-002", Namespace: "kube-system", Reason: "CNI agent", Source: at(5)},
				{Rule: "IMDS-001", Name: "legacy", Reason: "legacy app, tracked in SEC-7", Source: at(9)},
				{Rule: "IMDS-003", Namespace: "sandbox", Reason: "throwaway", Source: at(12)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := config.Parse("cfg.yaml", []byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(got.Suppressions, tt.want); diff != "" {
				t.Errorf("Parse (-got +want):\n%s", diff)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		// want lists substrings the error must contain.
		want []string
	}{
		{
			name: "unknown top-level field",
			in:   header + "suppressions: []\nfailOn: high\n",
			want: []string{"cfg.yaml: ", "line 4: field failOn not found"},
		},
		{
			name: "second document",
			in:   header + "suppressions: []\n---\nsuppressions: []\n",
			want: []string{"cfg.yaml: want exactly one YAML document"},
		},
		{
			name: "blank reason",
			in:   header + "suppressions:\n- rule: IMDS-001\n  reason: '  '\n",
			want: []string{"rule and reason are required"},
		},
		{
			name: "unknown field in a suppression entry",
			in:   header + "suppressions:\n- rule: IMDS-001\n  reason: r\n  namespce: apps\n",
			want: []string{"cfg.yaml: line 6: unknown field \"namespce\""},
		},
		{
			name: "wrong type in a suppression entry",
			in:   header + "suppressions:\n- rule: IMDS-001\n  reason: r\n  name: [a, b]\n",
			want: []string{"cfg.yaml", "cannot unmarshal !!seq into string"},
		},
		{
			name: "missing rule",
			in:   header + "suppressions:\n- reason: r\n  name: web\n",
			want: []string{"cfg.yaml:4: suppressions[0]: rule and reason are required"},
		},
		{
			name: "missing reason in the second entry",
			in:   header + "suppressions:\n- rule: IMDS-001\n  reason: r\n- rule: IMDS-002\n  name: web\n",
			want: []string{"cfg.yaml:6: suppressions[1]: rule and reason are required"},
		},
		{
			name: "wrong apiVersion",
			in:   "apiVersion: imdsguard.io/v1\nkind: ScanConfig\n",
			want: []string{`cfg.yaml: want apiVersion imdsguard.io/v1alpha1 and kind ScanConfig, got "imdsguard.io/v1" and "ScanConfig"`},
		},
		{
			name: "wrong kind",
			in:   "apiVersion: imdsguard.io/v1alpha1\nkind: Config\n",
			want: []string{`cfg.yaml: want apiVersion imdsguard.io/v1alpha1 and kind ScanConfig, got "imdsguard.io/v1alpha1" and "Config"`},
		},
		{
			name: "no apiVersion or kind",
			in:   "suppressions: []\n",
			want: []string{`got "" and ""`},
		},
		{
			name: "bad pattern in name",
			in:   header + "suppressions:\n- rule: IMDS-001\n  reason: r\n  name: \"web-[\"\n",
			want: []string{`cfg.yaml:4: suppressions[0]: bad pattern "web-[": syntax error in pattern`},
		},
		{
			name: "bad pattern in namespace",
			in:   header + "suppressions:\n- rule: IMDS-001\n  reason: r\n  namespace: \"[a-\"\n",
			want: []string{`cfg.yaml:4: suppressions[0]: bad pattern "[a-"`},
		},
		{
			name: "bad pattern in kind",
			in:   header + "suppressions:\n- rule: IMDS-001\n  reason: r\n  kind: \"Deploy\\\\\"\n",
			want: []string{`cfg.yaml:4: suppressions[0]: bad pattern`},
		},
		{
			name: "empty file",
			in:   "",
			want: []string{"cfg.yaml: empty config file"},
		},
		{
			name: "only comments",
			in:   "# nothing here\n",
			want: []string{"cfg.yaml: empty config file"},
		},
		{
			name: "not YAML",
			in:   "apiVersion: [imdsguard.io\n",
			want: []string{"cfg.yaml: yaml: line"},
		},
		{
			name: "a list instead of a mapping",
			in:   "- rule: IMDS-001\n",
			want: []string{"cfg.yaml: ", "line 1: cannot unmarshal !!seq"},
		},
		{
			name: "suppressions as a mapping",
			in:   header + "suppressions:\n  rule: IMDS-001\n",
			want: []string{"cfg.yaml: ", "line 4: cannot unmarshal !!map"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := config.Parse("cfg.yaml", []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", got)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		file    string
		want    []rules.ConfigSuppression
		wantErr string
	}{
		{
			file: "valid-suppressions.yaml",
			want: []rules.ConfigSuppression{
				{Rule: "IMDS-002", Namespace: "monitoring", Kind: "DaemonSet", Name: "node-exporter",
					Reason: "reads node metrics; egress limited by the node firewall (SEC-1432)",
					Source: model.Source{File: filepath.Join("testdata", "valid-suppressions.yaml"), Line: 5}},
				{Rule: "IMDS-001", Namespace: "team-*", Name: "batch-?", Reason: "jobs run in an isolated VPC",
					Source: model.Source{File: filepath.Join("testdata", "valid-suppressions.yaml"), Line: 10}},
			},
		},
		{
			file:    "invalid-unknown-field.yaml",
			wantErr: filepath.Join("testdata", "invalid-unknown-field.yaml") + ": yaml: unmarshal errors:\n  line 3: field supressions not found",
		},
		{
			file:    "invalid-missing-reason.yaml",
			wantErr: filepath.Join("testdata", "invalid-missing-reason.yaml") + ":6: suppressions[1]: rule and reason are required",
		},
		{
			file:    "missing.yaml",
			wantErr: "reading config: open " + filepath.Join("testdata", "missing.yaml") + ": no such file or directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := config.Load(filepath.Join("testdata", tt.file))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load = %+v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(got.Suppressions, tt.want); diff != "" {
				t.Errorf("Load (-got +want):\n%s", diff)
			}
		})
	}
}

// TestLoadSizeLimit checks that a file of exactly 1 MiB loads and one byte
// more is refused before it is parsed.
func TestLoadSizeLimit(t *testing.T) {
	const limit = 1 << 20
	body := header + "suppressions:\n- rule: IMDS-001\n  reason: r\n"
	tests := []struct {
		name    string
		size    int
		wantErr string
	}{
		{name: "exactly 1 MiB", size: limit},
		{name: "one byte over", size: limit + 1, wantErr: "config file is larger than 1 MiB"},
		{name: "far over", size: 3 * limit, wantErr: "config file is larger than 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "big.yaml")
			// Pad with a comment so that the content stays valid at any size.
			padding := tt.size - len(body) - len("#\n")
			content := body + "#" + strings.Repeat("x", padding) + "\n"
			if len(content) != tt.size {
				t.Fatalf("built %d bytes, want %d", len(content), tt.size)
			}
			if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := config.Load(file)
			if tt.wantErr != "" {
				want := file + ": " + tt.wantErr
				if err == nil || err.Error() != want {
					t.Fatalf("Load = %+v, %v; want error %q", got, err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(got.Suppressions) != 1 || got.Suppressions[0].Rule != "IMDS-001" {
				t.Errorf("Load = %+v, want the one IMDS-001 suppression", got)
			}
		})
	}
}
