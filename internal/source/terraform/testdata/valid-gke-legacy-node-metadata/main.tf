resource "google_container_cluster" "legacy" {
  name = "legacy"

  node_config {
    workload_metadata_config {
      node_metadata = "GKE_METADATA_SERVER"
    }
  }
}

resource "google_container_node_pool" "secure" {
  name    = "secure"
  cluster = google_container_cluster.legacy.name

  node_config {
    workload_metadata_config {
      node_metadata = "SECURE"
    }
  }
}
