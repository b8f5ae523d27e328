// Package fakeimds serves fake cloud instance metadata, AWS (IMDSv1 and
// IMDSv2 with token TTLs), GCP, Azure (IMDS and WireServer) and Alibaba,
// with each service's header rules, for tests and benchmarks. Its secrets
// are recognisable, so a test can assert that none ever reaches a client.
package fakeimds
