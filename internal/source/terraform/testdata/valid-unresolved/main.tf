variable "tokens" {}

data "aws_ssm_parameter" "hop" {
  name = "/imds/hop"
}

locals {
  a = local.b
  b = local.a
}

resource "aws_launch_template" "unknowns" {
  metadata_options {
    http_tokens                 = var.tokens
    http_put_response_hop_limit = data.aws_ssm_parameter.hop.value
    http_endpoint               = timestamp()
    http_protocol_ipv6          = local.a
    instance_metadata_tags      = aws_instance.missing.tags
  }
}

resource "aws_launch_template" "counted" {
  count = 2
  name  = "counted-${count.index}"
  metadata_options {
    http_tokens = "required"
  }
}

resource "aws_instance" "from_counted" {
  launch_template {
    name = aws_launch_template.counted[0].name
  }
  metadata_options {
    http_tokens = aws_launch_template.counted[0].metadata_options[0].http_tokens
  }
}

resource "aws_launch_template" "dynamic" {
  dynamic "metadata_options" {
    for_each = [1]
    content {
      http_tokens = "required"
    }
  }
}

resource "aws_eks_node_group" "data_lt" {
  cluster_name    = "prod"
  node_group_name = "data"
  node_role_arn   = "arn"
  subnet_ids      = ["subnet-1"]
  launch_template {
    id      = data.aws_launch_template.shared.id
    version = data.aws_launch_template.shared.latest_version
  }
  scaling_config {
    desired_size = 1
    max_size     = 1
    min_size     = 1
  }
}
