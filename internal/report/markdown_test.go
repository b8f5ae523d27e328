package report

import (
	"fmt"
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// TestMarkdownEscapes: text from manifests (names, messages) cannot break
// out of a table cell or inject HTML into the comment.
func TestMarkdownEscapes(t *testing.T) {
	d := fixtureDocument()
	d.Findings = append(d.Findings, rules.Finding{RuleID: "IMDS-001", Severity: rules.Critical, Namespace: "payments",
		Message: "a|b <script>alert(1)</script> `x` *y* _z_\nnext", Source: model.Source{File: "we|ird`.yaml", Line: 3}})
	out := string(render(t, d, FormatMarkdown, Options{}))
	for _, bad := range []string{"<script>", "a|b", "`x`", "we|ird"} {
		if strings.Contains(out, bad) {
			t.Errorf("unescaped %q in:\n%s", bad, out)
		}
	}
	for _, want := range []string{`a\|b &lt;script&gt;alert(1)&lt;/script&gt; \` + "`x\\`" + ` \*y\* \_z\_ next`, "`we\\|ird'.yaml:3`"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	// The critical finding comes first.
	if i, j := strings.Index(out, "| critical |"), strings.Index(out, "| high |"); i < 0 || (j >= 0 && j < i) {
		t.Errorf("findings not most severe first:\n%s", out)
	}
}

// TestMarkdownBudget: a large cluster still fits a pull-request comment,
// and the report says what it left out.
func TestMarkdownBudget(t *testing.T) {
	d := emptyDocument()
	d.Targets = []Target{{ID: "169.254.169.254:80/TCP", Address: "169.254.169.254", Port: 80, Protocol: "TCP"}}
	for i := range 3000 {
		ns := fmt.Sprintf("team-%04d", i)
		d.Namespaces = append(d.Namespaces, ns)
		d.Workloads = append(d.Workloads, Workload{Object: model.ObjectRef{Kind: "Deployment", Namespace: ns, Name: "app"},
			Verdicts: []Verdict{{Target: "169.254.169.254:80/TCP", Verdict: reach.Reachable}}})
	}
	out := string(render(t, d, FormatMarkdown, Options{}))
	if len(out) > markdownBudget+1000 {
		t.Errorf("%d bytes, over the budget of %d", len(out), markdownBudget)
	}
	if !strings.Contains(out, "more section(s) left out to fit a comment") || !strings.Contains(out, "Namespace team-0000:") {
		t.Errorf("no truncation note, or the first namespace is missing:\n%s", out[len(out)-300:])
	}
}

// TestHTMLSelfContained: the page references nothing outside itself (no
// scripts, no sources, no stylesheets, no url()), forbids fetches with its
// Content-Security-Policy, and escapes text from the inputs.
func TestHTMLSelfContained(t *testing.T) {
	out := string(render(t, fixtureDocument(), FormatHTML, Options{}))
	for _, bad := range []string{"<script", "src=", "url(", "@import", "<link", "<img", "<iframe"} {
		if strings.Contains(out, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	if !strings.Contains(out, `content="default-src 'none'; style-src 'unsafe-inline'`) {
		t.Errorf("no Content-Security-Policy forbidding fetches")
	}
	d := fixtureDocument()
	d.Workloads[0].Object.Name = `x"><img src=https://evil.example/p.png onerror=alert(1)>`
	hostile := string(render(t, d, FormatHTML, Options{}))
	if strings.Contains(hostile, "<img") || !strings.Contains(hostile, "&lt;img") {
		t.Errorf("the hostile name is not escaped")
	}
}
