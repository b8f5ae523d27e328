resource "aws_launch_template" "ok" {
  metadata_options {
    http_tokens = "required"
  }
}

resource "aws_launch_template" "broken" {
  metadata_options {
    http_tokens = "required
  }
}
