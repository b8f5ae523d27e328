resource "aws_launch_template" "spot" {
  name_prefix = "spot-"
  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
}

resource "aws_autoscaling_group" "mixed" {
  min_size = 1
  max_size = 3

  mixed_instances_policy {
    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.spot.id
        version            = "$Default"
      }
      override {
        instance_type = "m5.large"
      }
    }
  }
}

resource "aws_autoscaling_group" "direct" {
  min_size = 1
  max_size = 3

  launch_template {
    id      = aws_launch_template.spot.id
    version = "$Latest"
  }
}

resource "aws_launch_configuration" "old" {
  image_id      = "ami-123"
  instance_type = "t3.small"
}

resource "aws_autoscaling_group" "legacy" {
  min_size             = 1
  max_size             = 3
  launch_configuration = aws_launch_configuration.old.name
}
