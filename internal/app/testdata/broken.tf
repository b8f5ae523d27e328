resource "aws_launch_template" "x" {
  metadata_options {
    http_tokens = = "required"
  }
}
