package generate

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// renderArtifacts writes artifacts as one YAML stream, each under a comment
// naming its file, for golden files.
func renderArtifacts(t *testing.T, arts []Artifact) string {
	t.Helper()
	var b strings.Builder
	for _, a := range arts {
		b.WriteString("# " + a.File + " (" + string(a.Group) + "): " + a.Why + "\n")
		if !a.IsObject() {
			b.Write(a.Raw)
			b.WriteString("---\n")
			continue
		}
		y, err := yaml.Marshal(a.Object.Object)
		if err != nil {
			t.Fatalf("%s: %v", a.File, err)
		}
		b.Write(y)
		b.WriteString("---\n")
	}
	return b.String()
}
