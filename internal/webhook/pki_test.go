package webhook

import (
	"crypto/x509"
	"net"
	"testing"
	"time"
)

// TestRenew walks the certificate data through its life: made from
// nothing, kept while fresh, the serving certificate renewed (same CA)
// when two thirds of its life are gone or its names change, and the CA
// renewed with the old one kept in the bundle.
func TestRenew(t *testing.T) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	c := &Certs{Now: func() time.Time { return now }}
	o := CertOptions{DNSNames: []string{"imdsguard.imdsguard-system.svc"}, IPs: []net.IP{net.ParseIP("127.0.0.1")},
		CAValidity: 300 * time.Hour, Validity: 30 * time.Hour}

	data, changed, err := c.renew(nil, &o)
	if err != nil || !changed {
		t.Fatalf("from nothing: changed %v, err %v", changed, err)
	}
	serving := leaf(t, data)
	if serving.DNSNames[0] != o.DNSNames[0] || !serving.IPAddresses[0].Equal(o.IPs[0]) {
		t.Errorf("names %v %v", serving.DNSNames, serving.IPAddresses)
	}
	cas := parseBundle(data[KeyCABundle])
	if len(cas) != 1 || serving.CheckSignatureFrom(cas[0]) != nil {
		t.Fatalf("the serving certificate is not signed by the bundle's CA")
	}

	now = now.Add(19 * time.Hour)
	if _, changed, _ := c.renew(data, &o); changed {
		t.Error("renewed with more than a third of its life left")
	}

	now = now.Add(2 * time.Hour) // 21 of 30 hours gone
	data2, changed, err := c.renew(data, &o)
	if err != nil || !changed {
		t.Fatalf("past two thirds: changed %v, err %v", changed, err)
	}
	if leaf(t, data2).SerialNumber.Cmp(serving.SerialNumber) == 0 {
		t.Error("the serving certificate was not reissued")
	}
	if string(data2[KeyCABundle]) != string(data[KeyCABundle]) {
		t.Error("the CA changed with the serving certificate")
	}

	o2 := o
	o2.DNSNames = []string{"other.imdsguard-system.svc"}
	if d, changed, _ := c.renew(data2, &o2); !changed || leaf(t, d).DNSNames[0] != "other.imdsguard-system.svc" {
		t.Error("a change of names did not reissue the certificate")
	}

	now = now.Add(200 * time.Hour) // past two thirds of the CA's life
	data3, changed, err := c.renew(data2, &o)
	if err != nil || !changed {
		t.Fatalf("CA renewal: changed %v, err %v", changed, err)
	}
	cas3 := parseBundle(data3[KeyCABundle])
	if len(cas3) != 2 || !cas3[1].Equal(cas[0]) {
		t.Fatalf("bundle after CA renewal has %d CAs, want the new one and the old one", len(cas3))
	}
	if err := leaf(t, data3).CheckSignatureFrom(cas3[0]); err != nil {
		t.Errorf("the new serving certificate is not signed by the new CA: %v", err)
	}

	now = now.Add(190 * time.Hour) // the old CA has expired
	data4, _, err := c.renew(data3, &o)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(parseBundle(data4[KeyCABundle])); n != 1 {
		t.Errorf("the bundle keeps %d CAs after the old one expired, want 1", n)
	}
}

func leaf(t *testing.T, data map[string][]byte) *x509.Certificate {
	t.Helper()
	kp, err := parseKeyPair(data[KeyCert], data[KeyKey])
	if err != nil {
		t.Fatal(err)
	}
	return kp.cert
}
