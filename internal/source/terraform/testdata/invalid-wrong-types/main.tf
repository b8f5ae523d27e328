resource "aws_launch_template" "block_for_string" {
  metadata_options {
    http_tokens {
      value = "required"
    }
  }
}

resource "aws_launch_template" "list_for_string" {
  metadata_options {
    http_tokens                 = ["required"]
    http_put_response_hop_limit = "one"
  }
}

resource "aws_instance" "options_as_argument" {
  metadata_options = {
    http_tokens = "required"
  }
}

resource "aws_launch_template" "twice" {
  metadata_options {
    http_tokens = "required"
  }
  metadata_options {
    http_tokens = "optional"
  }
}

resource "azurerm_kubernetes_cluster" "wrong" {
  name                = "aks"
  oidc_issuer_enabled = "maybe"
}

resource "google_container_node_pool" "wrong" {
  name    = "p"
  cluster = "c"
  node_config {
    metadata = ["disable-legacy-endpoints"]
  }
}
