package endpoints_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
)

func TestParseCloud(t *testing.T) {
	tests := []struct {
		in      string
		want    endpoints.Cloud
		wantErr string
	}{
		{in: "aws", want: endpoints.AWS},
		{in: "gcp", want: endpoints.GCP},
		{in: "azure", want: endpoints.Azure},
		{in: "alibaba", want: endpoints.Alibaba},
		{in: "oracle", want: endpoints.Oracle},
		{in: "openstack", want: endpoints.OpenStack},
		{in: "digitalocean", want: endpoints.DigitalOcean},
		{in: "auto", want: "auto"},
		{in: "all", want: "all"},
		{in: "gce", wantErr: `unknown cloud "gce" (want one of alibaba, aws, azure, digitalocean, gcp, openstack, oracle, auto or all)`},
		// Names are exact: the flag value is not case-folded.
		{in: "AWS", wantErr: `unknown cloud "AWS"`},
		// Custom marks --endpoint entries; it is not a cloud one can choose.
		{in: "custom", wantErr: `unknown cloud "custom"`},
		{in: "", wantErr: `unknown cloud ""`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := endpoints.ParseCloud(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseCloud(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCloud(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseCloud(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestClouds(t *testing.T) {
	want := []endpoints.Cloud{endpoints.Alibaba, endpoints.AWS, endpoints.Azure, endpoints.DigitalOcean,
		endpoints.GCP, endpoints.OpenStack, endpoints.Oracle}
	if diff := cmp.Diff(endpoints.Clouds(), want); diff != "" {
		t.Errorf("Clouds() (-got +want):\n%s", diff)
	}
}

func TestForClouds(t *testing.T) {
	tests := []struct {
		name   string
		clouds []endpoints.Cloud
		want   []string
	}{
		{
			name:   "no clouds means every cloud, in catalogue order",
			clouds: nil,
			want: []string{"aws-imds-ipv4", "aws-imds-ipv6", "gcp-metadata-ipv4", "gcp-metadata-ipv6", "azure-imds",
				"azure-wireserver", "azure-wireserver-hostga", "alibaba-metadata", "oracle-imds", "openstack-metadata",
				"digitalocean-metadata"},
		},
		{name: "aws", clouds: []endpoints.Cloud{endpoints.AWS}, want: []string{"aws-imds-ipv4", "aws-imds-ipv6"}},
		{name: "azure", clouds: []endpoints.Cloud{endpoints.Azure}, want: []string{"azure-imds", "azure-wireserver", "azure-wireserver-hostga"}},
		{
			name:   "several clouds keep catalogue order, not argument order",
			clouds: []endpoints.Cloud{endpoints.Alibaba, endpoints.GCP},
			want:   []string{"gcp-metadata-ipv4", "gcp-metadata-ipv6", "alibaba-metadata"},
		},
		{name: "a cloud without metadata entries", clouds: []endpoints.Cloud{endpoints.Custom}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ids(endpoints.ForClouds(tt.clouds...))
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("ForClouds(%v) (-got +want):\n%s", tt.clouds, diff)
			}
		})
	}
}

func TestKeepOpen(t *testing.T) {
	neutral := []string{"nodelocal-dns-udp", "nodelocal-dns-tcp", "nodelocal-dns-alt-udp"}
	all := append([]string{"eks-pod-identity-ipv4", "eks-pod-identity-ipv6", "ecs-task-credentials"}, neutral...)
	tests := []struct {
		name   string
		clouds []endpoints.Cloud
		want   []string
	}{
		{name: "no clouds means every entry", clouds: nil, want: all},
		{name: "aws gets its own entries and the cloud-neutral ones", clouds: []endpoints.Cloud{endpoints.AWS}, want: all},
		{name: "gcp gets only the cloud-neutral ones", clouds: []endpoints.Cloud{endpoints.GCP}, want: neutral},
		{name: "azure and alibaba get only the cloud-neutral ones", clouds: []endpoints.Cloud{endpoints.Azure, endpoints.Alibaba}, want: neutral},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ids(endpoints.KeepOpen(tt.clouds...))
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("KeepOpen(%v) (-got +want):\n%s", tt.clouds, diff)
			}
		})
	}
}

// TestCatalogue pins the addresses that the rest of imdsguard, and its
// users, rely on.
func TestCatalogue(t *testing.T) {
	tests := []struct {
		name string
		list []endpoints.Endpoint
		want string // Endpoint.String()
	}{
		{"aws imds ipv4", endpoints.ForClouds(endpoints.AWS), "169.254.169.254:80/TCP"},
		{"aws imds ipv6", endpoints.ForClouds(endpoints.AWS), "[fd00:ec2::254]:80/TCP"},
		{"gcp metadata", endpoints.ForClouds(endpoints.GCP), "169.254.169.254:80/TCP"},
		{"azure imds", endpoints.ForClouds(endpoints.Azure), "169.254.169.254:80/TCP"},
		{"azure wireserver", endpoints.ForClouds(endpoints.Azure), "168.63.129.16:80/TCP"},
		{"azure wireserver host plugin", endpoints.ForClouds(endpoints.Azure), "168.63.129.16:32526/TCP"},
		{"alibaba metadata", endpoints.ForClouds(endpoints.Alibaba), "100.100.100.200:80/TCP"},
		{"eks pod identity ipv4", endpoints.KeepOpen(endpoints.AWS), "169.254.170.23:80/TCP"},
		{"eks pod identity ipv6", endpoints.KeepOpen(endpoints.AWS), "[fd00:ec2::23]:80/TCP"},
		{"nodelocal dns udp", endpoints.KeepOpen(), "169.254.20.10:53/UDP"},
		{"nodelocal dns tcp", endpoints.KeepOpen(), "169.254.20.10:53/TCP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range tt.list {
				got = append(got, e.String())
			}
			for _, s := range got {
				if s == tt.want {
					return
				}
			}
			t.Errorf("%s missing from %v", tt.want, got)
		})
	}
}

func TestCatalogueInvariants(t *testing.T) {
	seen := map[string]bool{}
	check := func(e endpoints.Endpoint, keepOpen bool) {
		t.Helper()
		if seen[e.ID] {
			t.Errorf("duplicate endpoint ID %q", e.ID)
		}
		seen[e.ID] = true
		if e.KeepOpen != keepOpen {
			t.Errorf("%s: KeepOpen = %v, want %v", e.ID, e.KeepOpen, keepOpen)
		}
		if !e.Addr.IsValid() || e.Port <= 0 || e.Port > 65535 || e.Service == "" {
			t.Errorf("%s: incomplete entry %+v", e.ID, e)
		}
		if e.Protocol != model.TCP && e.Protocol != model.UDP {
			t.Errorf("%s: protocol %q", e.ID, e.Protocol)
		}
	}
	for _, e := range endpoints.ForClouds() {
		check(e, false)
		if e.Cloud == "" {
			t.Errorf("%s: metadata endpoint without a cloud", e.ID)
		}
	}
	for _, e := range endpoints.KeepOpen() {
		check(e, true)
	}
}

func TestEndpointString(t *testing.T) {
	tests := []struct {
		e            endpoints.Endpoint
		hostPort     string
		wantRendered string
	}{
		{endpoints.Endpoint{Addr: netip.MustParseAddr("169.254.169.254"), Port: 80, Protocol: model.TCP}, "169.254.169.254:80", "169.254.169.254:80/TCP"},
		{endpoints.Endpoint{Addr: netip.MustParseAddr("fd00:ec2::254"), Port: 80, Protocol: model.TCP}, "[fd00:ec2::254]:80", "[fd00:ec2::254]:80/TCP"},
		{endpoints.Endpoint{Addr: netip.MustParseAddr("169.254.20.10"), Port: 53, Protocol: model.UDP}, "169.254.20.10:53", "169.254.20.10:53/UDP"},
	}
	for _, tt := range tests {
		if got := tt.e.HostPort(); got != tt.hostPort {
			t.Errorf("HostPort() = %q, want %q", got, tt.hostPort)
		}
		if got := tt.e.String(); got != tt.wantRendered {
			t.Errorf("String() = %q, want %q", got, tt.wantRendered)
		}
	}
}

func TestParseExtra(t *testing.T) {
	custom := func(id, addr string, port int32, proto model.Protocol) endpoints.Endpoint {
		return endpoints.Endpoint{ID: id, Cloud: endpoints.Custom, Addr: netip.MustParseAddr(addr), Port: port,
			Protocol: proto, Service: "custom metadata endpoint"}
	}
	tests := []struct {
		in      string
		want    endpoints.Endpoint
		wantErr string
	}{
		{in: "10.0.0.1:8080", want: custom("custom-10-0-0-1-8080", "10.0.0.1", 8080, model.TCP)},
		{in: "[fd00::1]:80", want: custom("custom-fd00--1-80", "fd00::1", 80, model.TCP)},
		{in: "169.254.169.253", want: custom("custom-169-254-169-253-80", "169.254.169.253", 80, model.TCP)},
		{in: "fd00::1", want: custom("custom-fd00--1-80", "fd00::1", 80, model.TCP)},
		{in: "[fd00::1]", want: custom("custom-fd00--1-80", "fd00::1", 80, model.TCP)},
		{in: "vault=10.0.0.1:8200", want: custom("vault", "10.0.0.1", 8200, model.TCP)},
		{in: "10.0.0.1:53/udp", want: custom("custom-10-0-0-1-53", "10.0.0.1", 53, model.UDP)},
		{in: "10.0.0.1:53/SCTP", want: custom("custom-10-0-0-1-53", "10.0.0.1", 53, model.SCTP)},
		{in: "dns=[fd00::53]:53/UDP", want: custom("dns", "fd00::53", 53, model.UDP)},
		// An IPv4-mapped address is the IPv4 address it maps.
		{in: "[::ffff:169.254.169.254]:80", want: custom("custom-169-254-169-254-80", "169.254.169.254", 80, model.TCP)},
		{in: "10.0.0.1:53/icmp", wantErr: `endpoint "10.0.0.1:53": protocol must be TCP, UDP or SCTP`},
		{in: "10.0.0.1:0", wantErr: `endpoint "10.0.0.1:0": port must be 1-65535`},
		{in: "10.0.0.1:65536", wantErr: `endpoint "10.0.0.1:65536": want ADDR:PORT`},
		{in: "[fe80::1%eth0]:80", wantErr: `endpoint "[fe80::1%eth0]:80": zoned addresses are not supported`},
		{in: "fe80::1%eth0", wantErr: "zoned addresses are not supported"},
		{in: "metadata.internal:80", wantErr: `endpoint "metadata.internal:80": want ADDR:PORT, [IPV6]:PORT or a bare address (port 80)`},
		{in: "", wantErr: "want ADDR:PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := endpoints.ParseExtra(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseExtra(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseExtra(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(got, tt.want, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("ParseExtra(%q) (-got +want):\n%s", tt.in, diff)
			}
		})
	}
}

func ids(eps []endpoints.Endpoint) []string {
	var out []string
	for _, e := range eps {
		out = append(out, e.ID)
	}
	return out
}
