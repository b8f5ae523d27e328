variable "tokens" {
  type = string
}

variable "hop_limit" {
  type    = number
  default = 2
}

variable "endpoint" {
  default = "disabled"
}

variable "ipv6" {
  type    = string
  default = "enabled"
}

variable "tags" {
  type    = string
  default = null
}

resource "aws_launch_template" "workers" {
  metadata_options {
    http_endpoint               = var.endpoint
    http_tokens                 = var.tokens
    http_put_response_hop_limit = var.hop_limit
    http_protocol_ipv6          = var.ipv6
    instance_metadata_tags      = var.tags
  }
}
