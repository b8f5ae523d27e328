package protection

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

func TestClassify(t *testing.T) {
	p := ForClouds(Enforce, nil, nil, []string{"kube-system", "imdsguard-system"})
	label := map[string]string{"imdsguard.io/metadata-access": "allow"}
	tests := []struct {
		name        string
		labels      map[string]string
		annotations map[string]string
		want        State
		reason      string
	}{
		{"kube-system", label, nil, Exempt, ""},
		{"imdsguard-system", nil, nil, Exempt, ""},
		{"app", nil, nil, Protected, ""},
		{"app", map[string]string{"imdsguard.io/metadata-access": "deny"}, nil, Protected, ""},
		{"app", label, nil, OptOutRefused, ""},
		{"app", label, map[string]string{DefaultReasonAnnotation: "  "}, OptOutRefused, ""},
		{"app", label, map[string]string{DefaultReasonAnnotation: " reads instance tags "}, OptedOut, "reads instance tags"},
		{"app", nil, map[string]string{DefaultReasonAnnotation: "reason without label"}, Protected, ""},
	}
	for _, tt := range tests {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tt.name, Labels: tt.labels, Annotations: tt.annotations}}
		got, reason := p.Classify(ns)
		if got != tt.want || reason != tt.reason {
			t.Errorf("Classify(%s, %v, %v) = %s, %q; want %s, %q", tt.name, tt.labels, tt.annotations, got, reason, tt.want, tt.reason)
		}
		if got.Guarded() != (tt.want == Protected || tt.want == OptOutRefused) {
			t.Errorf("%s.Guarded() = %v", got, got.Guarded())
		}
	}
}

func TestForCloudsDeniesMetadataOnly(t *testing.T) {
	p := ForClouds(Audit, nil, nil, nil)
	want := map[string]bool{"169.254.169.254": true, "100.100.100.200": true, "168.63.129.16": true, "fd00:ec2::254": true, "fd20:ce::254": true}
	if len(p.Generate.Deny) != len(want) {
		t.Errorf("deny %v, want %v", p.Generate.Deny, want)
	}
	for _, a := range p.Generate.Deny {
		if !want[a.String()] {
			t.Errorf("denies %s, which is not a metadata address", a)
		}
	}
	for _, k := range p.KeepOpen {
		if !k.KeepOpen() {
			t.Errorf("keep-open target %s is not marked keep-open", k)
		}
	}
	if p.Mode != Audit || p.ReasonAnnotation != DefaultReasonAnnotation || p.OptOutValue != "allow" {
		t.Errorf("defaults not filled: %+v", p)
	}
}

func TestDescribeOpenings(t *testing.T) {
	p := ForClouds(Enforce, nil, nil, nil)
	block := &model.IPBlock{RawCIDR: "0.0.0.0/0"}
	if problem := block.SetCIDR("0.0.0.0/0"); problem != "" {
		t.Fatal(problem)
	}
	np := &model.NetworkPolicy{Egress: true, EgressRules: []model.EgressRule{
		{Index: 0, Ports: []model.Port{{Protocol: model.UDP, Number: 53}}},
		{Index: 1, To: []model.Peer{{IPBlock: block}}, Ports: []model.Port{{Protocol: model.TCP, Number: 80}}},
	}}
	openings := reach.Openings(np, p.Targets)
	got := DescribeOpenings(openings)
	want := "spec.egress[1] allows 100.100.100.200:80/TCP, 168.63.129.16:80/TCP, 169.254.169.254:80/TCP (ipBlock 0.0.0.0/0 contains 100.100.100.200, port 80/TCP)"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if n := CountRules(openings); n != 1 {
		t.Errorf("CountRules = %d, want 1", n)
	}
	np.Egress = false
	if o := reach.Openings(np, p.Targets); len(o) != 0 {
		t.Errorf("a policy that does not govern egress opens %v", o)
	}
}
