package generate

import "testing"

func TestIsGenerated(t *testing.T) {
	managed := map[string]string{ManagedByLabel: ManagedByValue}
	tests := []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{DefaultName, managed, true},
		{DefaultName + "-1", managed, true},
		{DefaultName + "-12", managed, true},
		{DefaultName, nil, false},
		{DefaultName, map[string]string{ManagedByLabel: "helm"}, false},
		{DefaultName + "-0", managed, false},
		{DefaultName + "-01", managed, false},
		{DefaultName + "-x", managed, false},
		{DefaultName + "x", managed, false},
		{"allow-dns", managed, false},
	}
	o := &Options{}
	for _, tt := range tests {
		if got := IsGenerated(tt.name, tt.labels, o); got != tt.want {
			t.Errorf("IsGenerated(%q, %v) = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if !IsGenerated("custom-2", managed, &Options{Name: "custom"}) {
		t.Error("a custom name with a suffix is not recognised")
	}
}
