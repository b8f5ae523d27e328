package redirect

import (
	"slices"
	"testing"
)

func TestDetectPodInterfaces(t *testing.T) {
	for _, tc := range []struct {
		host []string
		want []string
	}{
		{[]string{"lo", "eth0", "cali1a2b3c4d5e6", "veth12ab34cd"}, []string{"cali*", "veth*"}},
		{[]string{"lo", "ens5", "eni3c4d5e6f7a8", "eni9a8b7c6d5e4"}, []string{"eni*"}},
		{[]string{"lo", "eth0", "azv1234abcd"}, []string{"azv*"}},
		{[]string{"lo", "eth0", "gke5a6b7c8d9e0"}, []string{"gke*"}},
		{[]string{"lo", "eth0", "veth"}, nil},            // the bare prefix names no pod
		{[]string{"lo", "eth0", "antrea-gw0"}, nil},      // a CNI named otherwise
		{[]string{"lo", "eth0", "docker0", "ens5"}, nil}, // eni* is not ens*
	} {
		if got := DetectPodInterfaces(tc.host); !slices.Equal(got, tc.want) {
			t.Errorf("DetectPodInterfaces(%v) = %v, want %v", tc.host, got, tc.want)
		}
	}
}
