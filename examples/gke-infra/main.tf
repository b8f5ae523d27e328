# A GKE cluster as Terraform. scan ./examples reads it with the manifests.
# Workload Identity is on and the default pool runs the GKE metadata server,
# but the batch pool was switched back to GCE_METADATA with the legacy
# endpoints on: its pods get the node's service account token (IMDS-008),
# even through the header-less legacy paths (IMDS-010).
variable "project" {
  default = "shop-analytics"
}

resource "google_container_cluster" "analytics" {
  name     = "analytics"
  location = "europe-west1"
  project  = var.project

  workload_identity_config {
    workload_pool = "${var.project}.svc.id.goog"
  }

  node_config {
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }
}

resource "google_container_node_pool" "batch" {
  name    = "batch"
  cluster = google_container_cluster.analytics.name

  node_config {
    machine_type = "e2-standard-4"
    metadata = {
      disable-legacy-endpoints = "false"
    }
    workload_metadata_config {
      mode = "GCE_METADATA"
    }
  }
}
