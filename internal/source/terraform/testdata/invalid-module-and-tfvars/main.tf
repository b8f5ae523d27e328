variable "tokens" {
  default = "optional"
}

module "gone" {
  source = "./does-not-exist"
}

module "computed" {
  source = "./${var.tokens}"
}

resource "aws_launch_template" "lt" {
  metadata_options {
    http_tokens = var.tokens
  }
}
