module "again" {
  source = "./"
}

module "sibling" {
  source = "../invalid-module-loop"
}

resource "aws_launch_template" "lt" {
  metadata_options {
    http_tokens = "required"
  }
}
