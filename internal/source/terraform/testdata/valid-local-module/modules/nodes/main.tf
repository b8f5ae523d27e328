variable "hop_limit" {
  type = number
}

variable "cluster" {
  type = string
}

resource "aws_launch_template" "nodes" {
  name = "${var.cluster}-nodes"
  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = var.hop_limit
  }
}

output "launch_template_id" {
  value = aws_launch_template.nodes.id
}

output "cluster" {
  value = var.cluster
}
