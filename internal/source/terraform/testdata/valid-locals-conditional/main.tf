variable "env" {
  default = "prod"
}

variable "overrides" {
  type    = map(string)
  default = {}
}

locals {
  is_prod   = var.env == "prod"
  tokens    = local.is_prod ? "required" : "optional"
  hop_limit = local.is_prod ? 1 : 2
  defaults  = { endpoint = "enabled", tags = "DISABLED" }
  settings  = merge(local.defaults, var.overrides)
}

resource "aws_launch_template" "workers" {
  metadata_options {
    http_endpoint               = lookup(local.settings, "endpoint", "disabled")
    http_tokens                 = upper(local.tokens) == "REQUIRED" ? local.tokens : "optional"
    http_put_response_hop_limit = tonumber(tostring(local.hop_limit))
    http_protocol_ipv6          = coalesce("", "disabled")
    instance_metadata_tags      = lower(local.settings.tags)
  }
}
