package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/imdsguard/imdsguard/internal/schematest"
)

// TestCalicoScanJSON scans a Calico tier and policy and checks that the
// JSON report names the CalicoPolicy layer and matches the schema.
func TestCalicoScanJSON(t *testing.T) {
	in := filepath.Join(t.TempDir(), "calico.yaml")
	err := os.WriteFile(in, []byte(`apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.deny-metadata}
spec:
  tier: security
  egress:
  - {action: Deny, destination: {nets: [169.254.169.254/32, "fd00:ec2::254/128"]}}
  - {action: Pass}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: web}
spec: {containers: [{name: web, image: web}]}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", "scan", "-f", "json", "--cloud", "aws", in)
	if !strings.Contains(r.stdout, `"layer": "CalicoPolicy"`) {
		t.Fatalf("exit %d: no CalicoPolicy step in the report; stderr:\n%s\nstdout:\n%s", r.code, r.stderr, r.stdout)
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	if err := schematest.Compile(t, "../../docs/schema/scan-v1.json").Validate(v); err != nil {
		t.Errorf("the report does not match the schema:\n%v", err)
	}
}
