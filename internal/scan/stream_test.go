package scan

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/report"
	"github.com/imdsguard/imdsguard/internal/rules"
	"github.com/imdsguard/imdsguard/internal/synth"
)

// streamLayouts are inputs whose namespaces are spread over files in the
// ways that make the grouping of a streamed scan matter.
func streamLayouts(t *testing.T) map[string]Options {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	synthDir := filepath.Join(dir, "synth")
	if err := os.MkdirAll(synthDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := synth.Write(synthDir, synth.Spec{Namespaces: 60, WorkloadsPerNS: 6, PoliciesPerNS: 3, Seed: 7, NamespacesPerFile: 7}); err != nil {
		t.Fatal(err)
	}
	// Namespaces a and c share a file, b sits between them in another, and
	// a Deployment's ReplicaSet and Pod are in a third file with an owner
	// cycle elsewhere; namespace "quiet" is declared and holds nothing.
	mixed := []string{
		write("mixed/ac.yaml", `apiVersion: v1
kind: Namespace
metadata: {name: c, labels: {team: c}, annotations: {imdsguard.io/ignore: IMDS-003}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: a}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: c}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {hostNetwork: true, containers: [{name: c, image: agent}]}
`),
		write("mixed/b.yaml", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-metadata, namespace: b}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-5d9f-abcde
  namespace: b
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d9f, uid: u1, controller: true}]
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: quiet}
`),
		write("mixed/owners.yaml", `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d9f
  namespace: b
  uid: u1
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: u0, controller: true}]
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ServiceAccount
  metadata: {name: default, namespace: a, annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::1:role/x"}}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: api, namespace: d, annotations: {imdsguard.io/ignore: IMDS-001}}
  spec:
    selector: {matchLabels: {app: api}}
    template:
      metadata: {labels: {app: api}}
      spec: {containers: [{name: c, image: api}]}
`),
	}
	// Two ReplicaSets in two files own each other.
	replicaSet := func(name, owner string) string {
		return `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: ` + name + `
  namespace: loop
  uid: u` + name + `
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: ` + owner + `, uid: u` + owner + `, controller: true}]
spec:
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `}}
    spec: {containers: [{name: c, image: ` + name + `}]}
`
	}
	cycle := write("cycle/x.yaml", replicaSet("x", "y"))
	cycle2 := write("cycle2/y.yaml", replicaSet("y", "x"))
	stdin, err := os.ReadFile(mixed[1])
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Options{
		"examples": {Paths: []string{"../../examples"}, Cloud: "auto"},
		"calico":   {Paths: []string{"../source/manifest/testdata/valid-calico.yaml", mixed[0], mixed[1]}, Cloud: "aws"},
		"cilium":   {Paths: []string{"../source/manifest/testdata/valid-cilium.yaml", mixed[0], mixed[1]}, Cloud: "aws"},
		"synth":    {Paths: []string{synthDir}, Cloud: "all"},
		"mixed":    {Paths: mixed, Cloud: "aws"},
		"cycle":    {Paths: []string{cycle, cycle2, mixed[0]}},
		"stdin":    {Paths: []string{mixed[0], "-", mixed[2]}, Stdin: bytes.NewReader(stdin), Cloud: "aws"},
	}
}

// TestStreamMatchesRun holds the streamed scan (two passes, one group of
// namespaces at a time) to the scan of everything in memory: for every
// layout, the table (plain and verbose), JSON and SARIF reports are the
// same bytes, and so are the findings counted for the exit code and the
// warnings.
func TestStreamMatchesRun(t *testing.T) {
	for name, o := range streamLayouts(t) {
		for _, format := range []report.Format{report.FormatTable, report.FormatJSON, report.FormatSARIF} {
			for _, verbose := range []bool{false, true} {
				if verbose && format != report.FormatTable {
					continue
				}
				ro := report.Options{Verbose: verbose}
				if r, ok := o.Stdin.(*bytes.Reader); ok {
					_, _ = r.Seek(0, 0)
				}
				res, err := Run(context.Background(), o)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				var want bytes.Buffer
				if err := report.Render(&want, res.Document(), format, ro); err != nil {
					t.Fatal(err)
				}
				if r, ok := o.Stdin.(*bytes.Reader); ok {
					_, _ = r.Seek(0, 0)
				}
				plan, err := Prepare(context.Background(), o)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				var got bytes.Buffer
				var findings []rules.Finding
				err = plan.Render(context.Background(), &got, format, ro, func(fs []rules.Finding) { findings = append(findings, fs...) })
				if cerr := plan.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					t.Fatalf("%s %s: %v", name, format, err)
				}
				if got.String() != want.String() {
					t.Errorf("%s %s verbose=%v: the streamed report differs from the whole one:\n%s", name, format, verbose, firstDiff(got.String(), want.String()))
				}
				if len(findings) != len(res.Findings) || strings.Join(plan.Warnings, "\n") != strings.Join(res.Warnings, "\n") {
					t.Errorf("%s: %d findings and warnings %q streamed, want %d and %q", name, len(findings), plan.Warnings, len(res.Findings), res.Warnings)
				}
				if len(res.Findings) == 0 || len(res.Analysis.Workloads) == 0 || (name == "cycle") != (len(res.InputErrors) > 0) {
					t.Errorf("%s: the layout does not test what it should (%d input errors)", name, len(res.InputErrors))
				}
			}
		}
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return "line " + itoa(i+1) + ":\n got: " + a + "\nwant: " + b
		}
	}
	return ""
}

// TestPartsClassifyEveryInventoryField fails when model.Inventory gains a
// field that Plan.Parts does not place: namespaced objects come from the
// group (manifest.Index.Group), cluster-scoped ones from the first pass.
func TestPartsClassifyEveryInventoryField(t *testing.T) {
	placed := map[string]string{
		"Namespaces": "group's, from the index", "Workloads": "group", "NetworkPolicies": "group",
		"ServiceAccounts": "group", "Unsupported": "cluster-scoped from the index, namespaced from the group",
		"Nodes": "index", "AdminPolicies": "index", "NodeConfigs": "index", "NodeConfigGaps": "index",
		"UnknownKinds": "index only (counted once)", "Incomplete": "index, shared",
		"CalicoPolicies": "global from the index, namespaced from the group", "CalicoTiers": "index",
		"CiliumPolicies": "clusterwide from the index, namespaced from the group",
	}
	typ := reflect.TypeFor[model.Inventory]()
	for i := range typ.NumField() {
		if name := typ.Field(i).Name; placed[name] == "" {
			t.Errorf("model.Inventory.%s: place it in scan.Plan.Parts (and manifest.Index.Group if namespaced), then list it here", name)
		}
	}
}
