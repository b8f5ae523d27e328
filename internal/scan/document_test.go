package scan

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/reach"
)

func TestDecidingLayer(t *testing.T) {
	step := func(l reach.Layer, d reach.Decision) reach.Step { return reach.Step{Layer: l, Decision: d} }
	tests := []struct {
		name string
		res  reach.Result
		want reach.Layer
	}{
		{"not isolated", reach.Result{Verdict: reach.Reachable, Trace: []reach.Step{step(reach.LayerNetworkPolicy, reach.NoOpinion)}}, reach.LayerNetworkPolicy},
		{"host network", reach.Result{Verdict: reach.Reachable, Trace: []reach.Step{step(reach.LayerHostNetwork, reach.Allow)}}, reach.LayerHostNetwork},
		{"admin policy leaves it open", reach.Result{Verdict: reach.Unknown, Trace: []reach.Step{
			step(reach.LayerUnsupported, reach.Undecided), step(reach.LayerNetworkPolicy, reach.Deny)}}, reach.LayerUnsupported},
		{"baseline after no opinion", reach.Result{Verdict: reach.Unknown, Trace: []reach.Step{
			step(reach.LayerNetworkPolicy, reach.NoOpinion), step(reach.LayerUnsupported, reach.Undecided)}}, reach.LayerUnsupported},
		{"blocked, then unreadable input", reach.Result{Verdict: reach.Unknown, Trace: []reach.Step{
			step(reach.LayerNetworkPolicy, reach.Deny), step(reach.LayerInput, reach.Undecided)}}, reach.LayerInput},
		{"denied", reach.Result{Verdict: reach.Blocked, Trace: []reach.Step{step(reach.LayerNetworkPolicy, reach.Deny)}}, reach.LayerNetworkPolicy},
		{"empty", reach.Result{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DecidingLayer(tt.res); got != tt.want {
				t.Errorf("DecidingLayer() = %q, want %q", got, tt.want)
			}
		})
	}
}
