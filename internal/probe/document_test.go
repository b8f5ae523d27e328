package probe_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/probe"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/rules"
)

const awsTarget = "169.254.169.254:80/TCP"

func report1(results ...probe.Result) *probe.Report {
	return &probe.Report{Version: probe.ReportVersion, Results: results}
}

func res(check, endpoint string, c probe.Class) probe.Result {
	return probe.Result{Check: check, Endpoint: endpoint, Class: c}
}

func TestVerdicts(t *testing.T) {
	tests := []struct {
		name string
		rep  *probe.Report
		want map[string]string // target → verdict
	}{
		{"credentials on one check make the address Reachable",
			report1(res("aws-imdsv1", "aws-imds-ipv4", probe.Refused), res("aws-imdsv2", "aws-imds-ipv4", probe.Credentials)),
			map[string]string{awsTarget: "Reachable"}},
		{"every check kept out is Blocked",
			report1(res("aws-imdsv1", "aws-imds-ipv4", probe.Timeout), res("gcp", "gcp-metadata-ipv4", probe.ProxyBlocked),
				res("azure-identity", "azure-imds", probe.ConnRefused)),
			map[string]string{awsTarget: "Blocked"}},
		{"an error leaves it Unknown",
			report1(res("aws-imdsv1", "aws-imds-ipv4", probe.Timeout), res("gcp", "gcp-metadata-ipv4", probe.Failed)),
			map[string]string{awsTarget: "Unknown"}},
		{"a name that does not resolve says nothing of the address",
			report1(res("gcp-dns", "gcp-metadata-ipv4", probe.DNSFailure)),
			map[string]string{awsTarget: "Unknown"}},
		{"targets are grouped by address",
			report1(res("aws-imdsv1-ipv6", "aws-imds-ipv6", probe.Metadata), res("alibaba", "alibaba-metadata", probe.Timeout)),
			map[string]string{"100.100.100.200:80/TCP": "Blocked", "[fd00:ec2::254]:80/TCP": "Reachable"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			for _, tv := range tc.rep.Verdicts() {
				got[tv.Target.String()] = tv.Verdict.String()
			}
			if d := cmp.Diff(got, tc.want); d != "" {
				t.Errorf("(-got +want)\n%s", d)
			}
		})
	}
}

func TestDocumentComparesWithStatic(t *testing.T) {
	web := model.ObjectRef{Kind: "Deployment", Namespace: "apps", Name: "web"}
	static := func(v reach.Verdict) probe.Static {
		return probe.Static{web: {{Target: awsTarget, Verdict: v, Trace: []reach.Step{{Layer: reach.LayerNetworkPolicy, Decision: reach.Deny, Reason: "deny-all"}}}}}
	}
	tests := []struct {
		name   string
		class  probe.Class
		static probe.Static
		want   map[string]rules.Severity // rule → severity
	}{
		{"blocked, served credentials", probe.Credentials, static(reach.Blocked),
			map[string]rules.Severity{rules.DatapathDisagreesID: rules.Critical, rules.ProbeCredentialsID: rules.High}},
		{"blocked, reached", probe.Metadata, static(reach.Blocked), map[string]rules.Severity{rules.DatapathDisagreesID: rules.High}},
		{"reachable, kept out", probe.Timeout, static(reach.Reachable), map[string]rules.Severity{rules.DatapathDisagreesID: rules.Low}},
		{"agree", probe.Metadata, static(reach.Reachable), map[string]rules.Severity{}},
		{"static unknown", probe.Metadata, static(reach.Unknown), map[string]rules.Severity{}},
		{"probe unknown", probe.Failed, static(reach.Blocked), map[string]rules.Severity{}},
		{"no static verdict", probe.Credentials, nil, map[string]rules.Severity{rules.ProbeCredentialsID: rules.High}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := probe.Document([]probe.Probe{{Object: web, Report: report1(res("aws-imdsv1", "aws-imds-ipv4", tc.class))}}, tc.static, "test")
			got := map[string]rules.Severity{}
			for _, f := range d.Findings {
				got[f.RuleID] = f.Severity
				if f.Namespace != "apps" || f.Object != web || len(f.Targets) != 1 || f.Targets[0] != awsTarget {
					t.Errorf("finding %+v", f)
				}
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("(-got +want)\n%s", diff)
			}
			if len(d.Workloads) != 1 || len(d.Workloads[0].Verdicts) != 1 {
				t.Fatalf("workloads %+v", d.Workloads)
			}
			trace := d.Workloads[0].Verdicts[0].Trace
			if last := trace[len(trace)-1]; tc.static != nil && last.Layer != probe.LayerStatic {
				t.Errorf("the trace does not end with the static verdict: %+v", trace)
			}
		})
	}
}

func TestDocumentReportsProbesWithoutReport(t *testing.T) {
	d := probe.Document([]probe.Probe{{Object: model.ObjectRef{Kind: "ProbePod", Namespace: "x", Name: "p"}, Error: "no report before the deadline"}}, nil, "test")
	if d.Complete || len(d.Errors) != 1 || d.Errors[0].Message != "probe: no report before the deadline" {
		t.Errorf("complete %v, errors %+v", d.Complete, d.Errors)
	}
}
