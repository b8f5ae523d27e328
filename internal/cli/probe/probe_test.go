package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/cli"
	"github.com/imdsguard/imdsguard/internal/fakeimds"
	"github.com/imdsguard/imdsguard/internal/probe"
	"github.com/imdsguard/imdsguard/internal/probe/probetest"
	"github.com/imdsguard/imdsguard/internal/report"
	"github.com/imdsguard/imdsguard/internal/rules"
	"github.com/imdsguard/imdsguard/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type result struct {
	code        int
	out, errOut string
}

// runCLI runs the probe command with a dialer held to loopback, so that a
// test that forgot a --target fails instead of asking a real metadata
// service.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	res := probetest.Resolver(t)
	var out, errOut bytes.Buffer
	s := cli.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	cmd := newCommand(s, dialer{dial: probetest.Dial(t, res), resolver: res})
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	code := 0
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		code = cli.ExitUsage
		if e, ok := err.(*cli.ExitError); ok {
			code = e.Code
		}
		errOut.WriteString(err.Error())
	}
	return result{code, out.String(), errOut.String()}
}

// loopback returns --target arguments for every endpoint, and the fakes.
func loopback(t *testing.T, o fakeimds.Options) []string {
	t.Helper()
	return probetest.TargetArgs(probetest.Fakes(t, o))
}

func assertNoSecrets(t *testing.T, s string) {
	t.Helper()
	if strings.Contains(s, fakeimds.SecretMarker) {
		t.Errorf("output leaks a secret:\n%s", s)
	}
}

func TestAgentWritesTerminationMessage(t *testing.T) {
	log := filepath.Join(t.TempDir(), "termination-log")
	r := runCLI(t, append([]string{"agent", "--termination-log", log, "--check-timeout", "8s"}, loopback(t, fakeimds.Options{RequireIMDSv2: true})...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(r.out) != string(b) || len(b) > probe.MaxMessage {
		t.Errorf("stdout and the termination message differ, or the message is %d bytes:\n%s\n%s", len(b), r.out, b)
	}
	rep, err := probe.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]probe.Class{}
	for _, res := range rep.Results {
		got[res.Check] = res.Class
	}
	if got["aws-imdsv1"] != probe.Refused || got["aws-imdsv2"] != probe.Credentials || got["azure-wireserver"] != probe.Metadata || len(got) != len(probe.Checks()) {
		t.Errorf("classes %v", got)
	}
	assertNoSecrets(t, r.out)
}

func TestLocal(t *testing.T) {
	targets := loopback(t, fakeimds.Options{})
	t.Run("json", func(t *testing.T) {
		r := runCLI(t, append([]string{"--local", "-f", "json", "--check", "aws-imdsv2,gcp,azure-wireserver"}, targets...)...)
		if r.code != cli.ExitFindings {
			t.Fatalf("exit %d, want 1 (credentials served): %s", r.code, r.errOut)
		}
		assertNoSecrets(t, r.out)
		var d report.Document
		if err := json.Unmarshal([]byte(r.out), &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Workloads) != 1 || d.Workloads[0].Object != probe.LocalObject {
			t.Fatalf("workloads %+v", d.Workloads)
		}
		verdicts := map[string]string{}
		for _, v := range d.Workloads[0].Verdicts {
			verdicts[v.Target] = v.Verdict.String()
		}
		want := map[string]string{"169.254.169.254:80/TCP": "Reachable", "168.63.129.16:80/TCP": "Reachable"}
		if len(verdicts) != len(want) || verdicts["169.254.169.254:80/TCP"] != "Reachable" || verdicts["168.63.129.16:80/TCP"] != "Reachable" {
			t.Errorf("verdicts %v, want %v", verdicts, want)
		}
		var creds []string
		for _, f := range d.Findings {
			if f.RuleID == rules.ProbeCredentialsID {
				creds = append(creds, f.Targets...)
			}
		}
		if len(creds) != 1 || creds[0] != "169.254.169.254:80/TCP" {
			t.Errorf("credential findings for %v, want the AWS/GCP/Azure address only", creds)
		}
	})
	t.Run("table", func(t *testing.T) {
		r := runCLI(t, append([]string{"--local", "--color", "never", "--fail-on", "none", "--check", "aws-imdsv1"}, targets...)...)
		if r.code != 0 {
			t.Fatalf("exit %d with --fail-on none: %s", r.code, r.errOut)
		}
		for _, want := range []string{"LocalNetworkNamespace local", "IMDS-014", "aws-imdsv1: credentials"} {
			if !strings.Contains(r.out, want) {
				t.Errorf("table lacks %q:\n%s", want, r.out)
			}
		}
	})
	t.Run("sarif", func(t *testing.T) {
		r := runCLI(t, append([]string{"--local", "-f", "sarif", "--check", "alibaba"}, targets...)...)
		var s struct {
			Runs []struct {
				Results []struct {
					RuleID string `json:"ruleId"`
				} `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal([]byte(r.out), &s); err != nil || len(s.Runs) != 1 || len(s.Runs[0].Results) != 1 || s.Runs[0].Results[0].RuleID != rules.ProbeCredentialsID {
			t.Errorf("sarif: %v\n%s", err, r.out)
		}
	})
	for _, format := range []string{"markdown", "html"} {
		t.Run(format, func(t *testing.T) {
			r := runCLI(t, append([]string{"--local", "-f", format, "--check", "gcp"}, targets...)...)
			if r.code != cli.ExitFindings || !strings.Contains(r.out, "IMDS-014") {
				t.Errorf("exit %d, want 1 and the credentials finding: %s\n%s", r.code, r.errOut, r.out)
			}
			assertNoSecrets(t, r.out)
		})
	}
	t.Run("blocked", func(t *testing.T) {
		r := runCLI(t, "--local", "-f", "json", "--check", "alibaba", "--target", "alibaba="+probetest.Closed(t))
		if r.code != 0 {
			t.Fatalf("exit %d, want 0 (nothing served): %s", r.code, r.errOut)
		}
		if !strings.Contains(r.out, `"verdict": "Blocked"`) || !strings.Contains(r.out, "connection-refused") {
			t.Errorf("want Blocked by a refused connection:\n%s", r.out)
		}
	})
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--local", "-n", "x"},
		{"--local", "--target", "nope=127.0.0.1:1"},
		{"--local", "--target", "alibaba"},
		{"--local", "--check", "nope"},
		{},
		{"--as", "just-a-name"},
		{"agent", "--check-timeout", "0s"},
	} {
		if r := runCLI(t, args...); r.code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want 2; %s", args, r.code, r.errOut)
		}
	}
}
