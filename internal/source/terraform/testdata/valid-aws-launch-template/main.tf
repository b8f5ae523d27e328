resource "aws_launch_template" "locked" {
  name = "locked"

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    http_protocol_ipv6          = "disabled"
    instance_metadata_tags      = "disabled"
  }
}

# No metadata_options at all: every setting is unset, at the resource's line.
resource "aws_launch_template" "bare" {
  name_prefix = "bare-"
}

resource "aws_launch_configuration" "legacy" {
  name          = "legacy"
  image_id      = "ami-123"
  instance_type = "t3.small"

  metadata_options {
    http_tokens = "optional"
  }
}

resource "aws_instance" "bastion" {
  ami           = "ami-123"
  instance_type = "t3.micro"

  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = "2"
  }
}

# An instance takes its settings from a launch template named by a literal
# name, which is matched to the template that carries it.
resource "aws_instance" "from_template" {
  launch_template {
    name    = "locked"
    version = "$Latest"
  }
}

resource "aws_instance" "from_template_id" {
  launch_template {
    id = "lt-0123456789abcdef0"
  }
}
