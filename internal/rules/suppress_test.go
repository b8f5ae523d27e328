package rules_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// suppressed is what the suppression tests compare: each finding, by rule
// and object, and who suppressed it.
type suppressed struct {
	Finding    string
	Suppressed *rules.Suppression
}

func TestSuppress(t *testing.T) {
	const (
		web001  = "IMDS-001 Deployment apps/web"
		db001   = "IMDS-001 Deployment apps/db"
		apps003 = "IMDS-003 Namespace apps"
		edge005 = "IMDS-005 NetworkPolicy edge/no-link-local"
	)
	reason := func(ids, why string) map[string]string {
		return map[string]string{rules.IgnoreAnnotation: ids, rules.IgnoreReasonAnnotation: why}
	}
	byAnnotation := func(why, file string) *rules.Suppression {
		return &rules.Suppression{By: "annotation", Reason: why, Source: at(file, 1)}
	}
	tests := []struct {
		name string
		// The inventory has Namespace apps (ns-apps.yaml) holding Deployments
		// web and db, and Namespace edge holding Deployment proxy and the
		// NetworkPolicy no-link-local; each annotation map is set on the
		// object it is named after.
		nsApps, web, policy map[string]string
		cfg                 []rules.ConfigSuppression
		want                map[string]*rules.Suppression
		wantWarnings        []string
	}{
		{
			name: "nothing suppressed",
		},
		{
			name: "annotation on the workload, with a reason",
			web:  reason("IMDS-001", "serves the metadata proxy"),
			want: map[string]*rules.Suppression{web001: byAnnotation("serves the metadata proxy", "web.yaml")},
		},
		{
			name: "annotation listing several rules, with spaces",
			web:  reason("IMDS-002 , IMDS-001", "legacy"),
			want: map[string]*rules.Suppression{web001: byAnnotation("legacy", "web.yaml")},
		},
		{
			name: "annotation for another rule",
			web:  reason("IMDS-002", "not this one"),
		},
		{
			name: "wildcard suppresses every rule without a warning",
			web:  reason("*", "sandbox workload"),
			want: map[string]*rules.Suppression{web001: byAnnotation("sandbox workload", "web.yaml")},
		},
		{
			name:         "annotation without a reason is not honoured",
			web:          map[string]string{rules.IgnoreAnnotation: "IMDS-001"},
			wantWarnings: []string{"web.yaml:1: Deployment apps/web: annotation imdsguard.io/ignore is not honoured without imdsguard.io/ignore-reason"},
		},
		{
			name:         "a blank reason is no reason",
			web:          reason("IMDS-001", "  \t"),
			wantWarnings: []string{"web.yaml:1: Deployment apps/web: annotation imdsguard.io/ignore is not honoured without imdsguard.io/ignore-reason"},
		},
		{
			name:         "annotation naming an unknown rule",
			web:          reason("IMDS-999", "typo"),
			wantWarnings: []string{`web.yaml:1: Deployment apps/web: annotation imdsguard.io/ignore names unknown rule "IMDS-999"`},
		},
		{
			name: "the reason is trimmed",
			web:  reason("IMDS-001", "  spaced out\n"),
			want: map[string]*rules.Suppression{web001: byAnnotation("spaced out", "web.yaml")},
		},
		{
			name:   "annotation on the namespace applies to its objects",
			nsApps: reason("IMDS-001", "sandbox"),
			want: map[string]*rules.Suppression{
				web001: byAnnotation("sandbox", "ns-apps.yaml"),
				db001:  byAnnotation("sandbox", "ns-apps.yaml"),
			},
		},
		{
			name:   "annotation on the namespace applies to the namespace's own finding",
			nsApps: reason("IMDS-003", "policies live in the mesh"),
			want:   map[string]*rules.Suppression{apps003: byAnnotation("policies live in the mesh", "ns-apps.yaml")},
		},
		{
			name:   "the object's annotation comes before its namespace's",
			nsApps: reason("IMDS-001", "namespace reason"),
			web:    reason("IMDS-001", "object reason"),
			want: map[string]*rules.Suppression{
				web001: byAnnotation("object reason", "web.yaml"),
				db001:  byAnnotation("namespace reason", "ns-apps.yaml"),
			},
		},
		{
			name:   "annotation on a NetworkPolicy",
			policy: reason("IMDS-005", "no node-local services on this cluster"),
			want:   map[string]*rules.Suppression{edge005: byAnnotation("no node-local services on this cluster", "no-link-local.yaml")},
		},
		{
			name: "config entry with patterns",
			cfg: []rules.ConfigSuppression{{Rule: "IMDS-001", Namespace: "ap*", Kind: "Deploy*", Name: "w?b",
				Reason: "accepted risk", Source: at("cfg.yaml", 4)}},
			want: map[string]*rules.Suppression{web001: {By: "config", Reason: "accepted risk", Source: at("cfg.yaml", 4)}},
		},
		{
			name: "config entry with empty patterns matches every object of the rule",
			cfg:  []rules.ConfigSuppression{{Rule: "IMDS-001", Reason: "lab cluster", Source: at("cfg.yaml", 4)}},
			want: map[string]*rules.Suppression{
				web001: {By: "config", Reason: "lab cluster", Source: at("cfg.yaml", 4)},
				db001:  {By: "config", Reason: "lab cluster", Source: at("cfg.yaml", 4)},
			},
		},
		{
			name: "config entry for a namespace finding",
			cfg: []rules.ConfigSuppression{{Rule: "IMDS-003", Kind: "Namespace", Name: "apps",
				Reason: "mesh", Source: at("cfg.yaml", 4)}},
			want: map[string]*rules.Suppression{apps003: {By: "config", Reason: "mesh", Source: at("cfg.yaml", 4)}},
		},
		{
			name: "config entries whose patterns do not match",
			cfg: []rules.ConfigSuppression{
				{Rule: "IMDS-001", Namespace: "edge", Reason: "r", Source: at("cfg.yaml", 4)},
				{Rule: "IMDS-001", Kind: "DaemonSet", Reason: "r", Source: at("cfg.yaml", 7)},
				{Rule: "IMDS-001", Name: "web-*", Reason: "r", Source: at("cfg.yaml", 10)},
				{Rule: "IMDS-002", Name: "web", Reason: "r", Source: at("cfg.yaml", 13)},
			},
		},
		{
			name: "the first matching config entry wins",
			cfg: []rules.ConfigSuppression{
				{Rule: "IMDS-001", Name: "web", Reason: "first", Source: at("cfg.yaml", 4)},
				{Rule: "IMDS-001", Name: "*", Reason: "second", Source: at("cfg.yaml", 7)},
			},
			want: map[string]*rules.Suppression{
				web001: {By: "config", Reason: "first", Source: at("cfg.yaml", 4)},
				db001:  {By: "config", Reason: "second", Source: at("cfg.yaml", 7)},
			},
		},
		{
			name: "annotations come before config",
			web:  reason("IMDS-001", "from the annotation"),
			cfg:  []rules.ConfigSuppression{{Rule: "IMDS-001", Reason: "from the config", Source: at("cfg.yaml", 4)}},
			want: map[string]*rules.Suppression{
				web001: byAnnotation("from the annotation", "web.yaml"),
				db001:  {By: "config", Reason: "from the config", Source: at("cfg.yaml", 4)},
			},
		},
		{
			name:         "config entry naming an unknown rule",
			cfg:          []rules.ConfigSuppression{{Rule: "IMDS-999", Reason: "typo", Source: at("cfg.yaml", 4)}},
			wantWarnings: []string{`cfg.yaml:4: suppression names unknown rule "IMDS-999"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newInventory(t)
			b.namespace("apps", tt.nsApps)
			b.deployment("apps", "web").Annotations = tt.web
			b.deployment("apps", "db")
			b.deployment("edge", "proxy")
			b.egressPolicy("edge", "no-link-local", "", egress(to(ipBlock("0.0.0.0/0", "169.254.0.0/16")))).Annotations = tt.policy
			findings := b.run(endpoints.AWS)

			warnings := rules.Default().Suppress(findings, b.inv, tt.cfg)

			// Every finding stays, suppressed or not.
			want := []suppressed{
				{Finding: db001}, {Finding: web001}, {Finding: apps003}, {Finding: edge005},
			}
			for i := range want {
				want[i].Suppressed = tt.want[want[i].Finding]
			}
			var got []suppressed
			for _, f := range findings {
				got = append(got, suppressed{Finding: f.RuleID + " " + f.Object.String(), Suppressed: f.Suppressed})
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("findings (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(warnings, tt.wantWarnings); diff != "" {
				t.Errorf("warnings (-got +want):\n%s", diff)
			}
		})
	}
}
