package endpoints

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// Cloud names a cloud provider.
type Cloud string

// The clouds in the catalogue.
const (
	AWS          Cloud = "aws"
	GCP          Cloud = "gcp"
	Azure        Cloud = "azure"
	Alibaba      Cloud = "alibaba"
	Oracle       Cloud = "oracle"
	OpenStack    Cloud = "openstack"
	DigitalOcean Cloud = "digitalocean"
	// Custom marks endpoints added on the command line.
	Custom Cloud = "custom"
)

// Endpoint is one address, port and protocol that serves instance metadata
// (or, for keep-open entries, a node-local service that must stay reachable).
type Endpoint struct {
	// ID is stable and short, e.g. "aws-imds-ipv4".
	ID       string
	Cloud    Cloud
	Addr     netip.Addr
	Port     int32
	Protocol model.Protocol
	// Service says what is served, e.g. "AWS IMDS".
	Service string
	// CredentialPaths lists the HTTP paths that hand out credentials or secrets.
	CredentialPaths []string
	// Notes carries caveats worth showing with a finding.
	Notes string
	// KeepOpen marks node-local services that pods need and that must not be
	// blocked, as opposed to metadata endpoints that should be.
	KeepOpen bool
}

// HostPort renders "addr:port" with IPv6 in brackets.
func (e Endpoint) HostPort() string {
	return netip.AddrPortFrom(e.Addr, uint16(e.Port)).String()
}

// String renders the endpoint for humans: "169.254.169.254:80/TCP".
func (e Endpoint) String() string { return e.HostPort() + "/" + string(e.Protocol) }

var catalogue = []Endpoint{
	{ID: "aws-imds-ipv4", Cloud: AWS, Addr: addr("169.254.169.254"), Port: 80, Protocol: model.TCP, Service: "AWS IMDS",
		CredentialPaths: []string{"/latest/meta-data/iam/security-credentials/", "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance", "/latest/user-data"}},
	{ID: "aws-imds-ipv6", Cloud: AWS, Addr: addr("fd00:ec2::254"), Port: 80, Protocol: model.TCP, Service: "AWS IMDS (IPv6, Nitro)",
		CredentialPaths: []string{"/latest/meta-data/iam/security-credentials/", "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance", "/latest/user-data"}},
	{ID: "gcp-metadata-ipv4", Cloud: GCP, Addr: addr("169.254.169.254"), Port: 80, Protocol: model.TCP, Service: "GCE metadata server",
		CredentialPaths: []string{"/computeMetadata/v1/instance/service-accounts/", "/computeMetadata/v1/instance/attributes/kube-env", "/computeMetadata/v1beta1/", "/0.1/meta-data/"}},
	{ID: "gcp-metadata-ipv6", Cloud: GCP, Addr: addr("fd20:ce::254"), Port: 80, Protocol: model.TCP, Service: "GCE metadata server (IPv6)",
		CredentialPaths: []string{"/computeMetadata/v1/instance/service-accounts/", "/computeMetadata/v1/instance/attributes/kube-env"},
		Notes:           "served to IPv6-enabled instances"},
	{ID: "azure-imds", Cloud: Azure, Addr: addr("169.254.169.254"), Port: 80, Protocol: model.TCP, Service: "Azure IMDS",
		CredentialPaths: []string{"/metadata/identity/oauth2/token"}},
	{ID: "azure-wireserver", Cloud: Azure, Addr: addr("168.63.129.16"), Port: 80, Protocol: model.TCP, Service: "Azure WireServer",
		Notes: "serves extension configuration, which can hold secrets"},
	{ID: "azure-wireserver-hostga", Cloud: Azure, Addr: addr("168.63.129.16"), Port: 32526, Protocol: model.TCP, Service: "Azure WireServer (host GA plugin)"},
	{ID: "alibaba-metadata", Cloud: Alibaba, Addr: addr("100.100.100.200"), Port: 80, Protocol: model.TCP, Service: "Alibaba Cloud metadata",
		CredentialPaths: []string{"/latest/meta-data/ram/security-credentials/"}},
	{ID: "oracle-imds", Cloud: Oracle, Addr: addr("169.254.169.254"), Port: 80, Protocol: model.TCP, Service: "OCI instance metadata",
		CredentialPaths: []string{"/opc/v2/identity/"}},
	{ID: "openstack-metadata", Cloud: OpenStack, Addr: addr("169.254.169.254"), Port: 80, Protocol: model.TCP, Service: "OpenStack metadata",
		CredentialPaths: []string{"/openstack/latest/user_data", "/latest/user-data"}},
	{ID: "digitalocean-metadata", Cloud: DigitalOcean, Addr: addr("169.254.169.254"), Port: 80, Protocol: model.TCP, Service: "DigitalOcean metadata",
		CredentialPaths: []string{"/metadata/v1/user-data"}},
}

// keepOpen lists node-local services on link-local addresses that pods need.
// Blocking them breaks clusters, which is why blocking 169.254.0.0/16 is wrong.
var keepOpen = []Endpoint{
	{ID: "eks-pod-identity-ipv4", Cloud: AWS, Addr: addr("169.254.170.23"), Port: 80, Protocol: model.TCP, Service: "EKS Pod Identity agent"},
	{ID: "eks-pod-identity-ipv6", Cloud: AWS, Addr: addr("fd00:ec2::23"), Port: 80, Protocol: model.TCP, Service: "EKS Pod Identity agent (IPv6)"},
	{ID: "ecs-task-credentials", Cloud: AWS, Addr: addr("169.254.170.2"), Port: 80, Protocol: model.TCP, Service: "ECS task credentials"},
	{ID: "nodelocal-dns-udp", Addr: addr("169.254.20.10"), Port: 53, Protocol: model.UDP, Service: "NodeLocal DNSCache"},
	{ID: "nodelocal-dns-tcp", Addr: addr("169.254.20.10"), Port: 53, Protocol: model.TCP, Service: "NodeLocal DNSCache"},
	{ID: "nodelocal-dns-alt-udp", Addr: addr("169.254.25.10"), Port: 53, Protocol: model.UDP, Service: "NodeLocal DNSCache (alternate address)"},
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// Clouds returns every cloud in the catalogue, sorted.
func Clouds() []Cloud {
	seen := map[Cloud]bool{}
	var out []Cloud
	for _, e := range catalogue {
		if !seen[e.Cloud] {
			seen[e.Cloud] = true
			out = append(out, e.Cloud)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// ParseCloud checks a --cloud value: a cloud name, "auto" or "all".
func ParseCloud(s string) (Cloud, error) {
	switch s {
	case "auto", "all":
		return Cloud(s), nil
	}
	for _, c := range Clouds() {
		if string(c) == s {
			return c, nil
		}
	}
	names := make([]string, 0, len(Clouds()))
	for _, c := range Clouds() {
		names = append(names, string(c))
	}
	return "", fmt.Errorf("unknown cloud %q (want one of %s, auto or all)", s, strings.Join(names, ", "))
}

// ForClouds returns the metadata endpoints of the given clouds, in catalogue
// order. No clouds means every cloud.
func ForClouds(clouds ...Cloud) []Endpoint {
	return filter(catalogue, clouds)
}

// KeepOpen returns the services that must stay reachable for the given
// clouds (cloud-neutral ones always).
func KeepOpen(clouds ...Cloud) []Endpoint {
	return filter(keepOpen, clouds)
}

func init() {
	for i := range keepOpen {
		keepOpen[i].KeepOpen = true
	}
}

func filter(list []Endpoint, clouds []Cloud) []Endpoint {
	want := map[Cloud]bool{"": true}
	for _, c := range clouds {
		want[c] = true
	}
	var out []Endpoint
	for _, e := range list {
		if len(clouds) == 0 || want[e.Cloud] {
			out = append(out, e)
		}
	}
	return out
}

// ParseExtra parses an --endpoint flag value: "ADDR:PORT[/PROTO]" or
// "[V6ADDR]:PORT[/PROTO]", optionally prefixed by "NAME=".
func ParseExtra(s string) (Endpoint, error) {
	id := ""
	if i := strings.IndexByte(s, '='); i >= 0 {
		id, s = s[:i], s[i+1:]
	}
	proto := model.TCP
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		proto = model.Protocol(strings.ToUpper(s[i+1:]))
		s = s[:i]
		if proto != model.TCP && proto != model.UDP && proto != model.SCTP {
			return Endpoint{}, fmt.Errorf("endpoint %q: protocol must be TCP, UDP or SCTP", s)
		}
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		a, aerr := netip.ParseAddr(strings.Trim(s, "[]"))
		if aerr != nil {
			return Endpoint{}, fmt.Errorf("endpoint %q: want ADDR:PORT, [IPV6]:PORT or a bare address (port 80): %w", s, err)
		}
		ap = netip.AddrPortFrom(a, 80)
	}
	if ap.Port() == 0 {
		return Endpoint{}, fmt.Errorf("endpoint %q: port must be 1-65535", s)
	}
	if ap.Addr().Zone() != "" {
		return Endpoint{}, fmt.Errorf("endpoint %q: zoned addresses are not supported", s)
	}
	a := ap.Addr().Unmap()
	if id == "" {
		id = "custom-" + strings.NewReplacer(":", "-", ".", "-", "[", "", "]", "").Replace(a.String()) + "-" + strconv.Itoa(int(ap.Port()))
	}
	return Endpoint{ID: id, Cloud: Custom, Addr: a, Port: int32(ap.Port()), Protocol: proto, Service: "custom metadata endpoint"}, nil
}
