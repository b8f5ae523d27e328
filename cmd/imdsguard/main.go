// Command imdsguard audits and protects Kubernetes workloads against cloud
// credential theft through the instance metadata service.
package main

import "github.com/imdsguard/imdsguard/internal/app"

func main() { app.Main() }
