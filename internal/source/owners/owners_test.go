package owners

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/model"
)

func obj(kind, name, uid string, owner *Ref) *Object {
	return &Object{UID: uid, Owner: owner, Workload: &model.Workload{
		Ref:       model.ObjectRef{Kind: kind, Namespace: "ns", Name: name},
		Templates: []model.PodTemplate{{Labels: model.Labels{"from": kind + "/" + name}}},
	}}
}

func owner(kind, name, uid string) *Ref {
	return &Ref{Kind: kind, Name: name, UID: uid, Source: model.Source{File: "f.yaml", Line: 7}}
}

// summary renders each reported workload as "Kind/name[*] <- labels of its templates".
func summary(ws []*model.Workload) []string {
	var out []string
	for _, w := range ws {
		s := w.Ref.Kind + "/" + w.Ref.Name
		if w.Inferred {
			s += "*"
		}
		s += " <-"
		for _, t := range w.Templates {
			s += " " + t.Labels["from"]
		}
		out = append(out, s)
	}
	return out
}

func TestFold(t *testing.T) {
	tests := []struct {
		name   string
		objs   []*Object
		want   []string
		cycles []string
	}{
		{
			name: "pod, replicaset and deployment present",
			objs: []*Object{
				obj("Pod", "web-1", "p1", owner("ReplicaSet", "web-rs", "r1")),
				obj("ReplicaSet", "web-rs", "r1", owner("Deployment", "web", "")),
				obj("Deployment", "web", "d1", nil),
			},
			want: []string{"Deployment/web <- Deployment/web Pod/web-1 ReplicaSet/web-rs"},
		},
		{
			name: "absent owner is inferred from the reference",
			objs: []*Object{obj("Pod", "job-x", "", owner("Job", "nightly-123", ""))},
			want: []string{"Job/nightly-123* <- Pod/job-x"},
		},
		{
			name: "uid mismatch means a different owner",
			objs: []*Object{
				obj("Pod", "a", "", owner("ReplicaSet", "rs", "old")),
				obj("ReplicaSet", "rs", "new", nil),
			},
			want: []string{"ReplicaSet/rs* <- Pod/a", "ReplicaSet/rs <- ReplicaSet/rs"},
		},
		{
			name: "cycle is broken at the first member",
			objs: []*Object{
				obj("ReplicaSet", "a", "", owner("ReplicaSet", "b", "")),
				obj("ReplicaSet", "b", "", owner("ReplicaSet", "a", "")),
			},
			want:   []string{"ReplicaSet/a <- ReplicaSet/a ReplicaSet/b"},
			cycles: []string{"ReplicaSet a -> ReplicaSet b -> ReplicaSet a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, cycles := Fold(tt.objs)
			if diff := cmp.Diff(summary(ws), tt.want); diff != "" {
				t.Errorf("workloads (-got +want):\n%s", diff)
			}
			var paths []string
			for _, c := range cycles {
				paths = append(paths, c.Path)
			}
			if diff := cmp.Diff(paths, tt.cycles); diff != "" {
				t.Errorf("cycles (-got +want):\n%s", diff)
			}
		})
	}
}
