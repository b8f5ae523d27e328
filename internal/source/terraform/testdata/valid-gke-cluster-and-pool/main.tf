# The default pool is removed at creation: its node_config (none here)
# describes no nodes and is not a node setting.
resource "google_container_cluster" "primary" {
  name                     = "prod"
  location                 = "europe-west1"
  remove_default_node_pool = true
  initial_node_count       = 1

  workload_identity_config {
    workload_pool = "my-project.svc.id.goog"
  }
}

resource "google_container_node_pool" "shielded" {
  name    = "shielded"
  cluster = google_container_cluster.primary.id

  node_config {
    labels = {
      team = "payments"
    }
    metadata = {
      disable-legacy-endpoints = "true"
    }
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }
}

resource "google_container_node_pool" "exposed" {
  name    = "exposed"
  cluster = google_container_cluster.primary.name

  node_config {
    workload_metadata_config {
      mode = "GCE_METADATA"
    }
  }
}

# A cluster defined elsewhere: its workload pool is not known here.
resource "google_container_node_pool" "elsewhere" {
  name    = "elsewhere"
  cluster = "projects/p/locations/l/clusters/other"
}

resource "google_container_cluster" "inline" {
  name = "inline"

  node_pool {
    name = "pool-a"
    node_config {
      metadata = {
        disable-legacy-endpoints = false
      }
    }
  }
}

# Whether the default pool is removed is not known: its node_config is kept
# (worst case), with the default-pool label its nodes would carry.
variable "remove_default" {}

resource "google_container_cluster" "maybe" {
  name                     = "maybe"
  remove_default_node_pool = var.remove_default

  node_config {
    workload_metadata_config {
      mode = "GCE_METADATA"
    }
  }
}
