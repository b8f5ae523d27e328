# Terraform node settings, one of each case the node fixes handle.

# IMDSv1 left on, IPv6 endpoint on: fixed in place, IPv6 kept. The node
# group below refers to its default version, which a new version does not
# reach: the fix moves the default.
resource "aws_launch_template" "workers" {
  name = "workers"
  metadata_options {
    http_tokens        = "optional"
    http_protocol_ipv6 = "enabled"
  }
}

resource "aws_eks_node_group" "workers" {
  cluster_name    = "prod"
  node_group_name = "workers"
  launch_template {
    id      = aws_launch_template.workers.id
    version = aws_launch_template.workers.default_version
  }
}

# Already safe: no fix.
resource "aws_launch_template" "secure" {
  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
}

# No launch template: EKS's default one decides; the fix adds one.
resource "aws_eks_node_group" "plain" {
  cluster_name    = "prod"
  node_group_name = "plain"
}

resource "aws_instance" "bastion" {
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
  }
}

resource "aws_launch_configuration" "legacy" {
  name = "legacy"
}

# GKE: a pool on GCE_METADATA with the legacy endpoints on, in a cluster
# without Workload Identity; an inline pool; the default pool.
resource "google_container_cluster" "analytics" {
  name = "analytics"

  node_config {
    workload_metadata_config {
      mode = "GCE_METADATA"
    }
  }

  node_pool {
    name = "inline"
  }
}

resource "google_container_node_pool" "batch" {
  name    = "batch"
  cluster = google_container_cluster.analytics.name

  node_config {
    metadata = {
      disable-legacy-endpoints = "false"
    }
    workload_metadata_config {
      mode = "GCE_METADATA"
    }
  }
}

resource "azurerm_kubernetes_cluster" "billing" {
  name                      = "billing"
  oidc_issuer_enabled       = true
  workload_identity_enabled = false
}

# The endpoint is off for everyone: no fix (never turn it back on).
resource "aws_launch_template" "off" {
  metadata_options {
    http_endpoint = "disabled"
    http_tokens   = "optional"
  }
}
