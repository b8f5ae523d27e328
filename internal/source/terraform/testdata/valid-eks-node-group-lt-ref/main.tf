resource "aws_eks_cluster" "main" {
  name     = "prod"
  role_arn = "arn:aws:iam::123456789012:role/eks"
  vpc_config {
    subnet_ids = ["subnet-1"]
  }
}

resource "aws_launch_template" "workers" {
  name = "workers"
  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
  }
}

resource "aws_eks_node_group" "workers" {
  cluster_name    = aws_eks_cluster.main.name
  node_group_name = "workers"
  node_role_arn   = "arn:aws:iam::123456789012:role/node"
  subnet_ids      = ["subnet-1"]

  labels = {
    role = "general"
    tier = "backend"
  }

  launch_template {
    id      = aws_launch_template.workers.id
    version = aws_launch_template.workers.latest_version
  }

  scaling_config {
    desired_size = 1
    max_size     = 1
    min_size     = 1
  }
}

# No launch template: EKS's own, so no settings written here.
resource "aws_eks_node_group" "plain" {
  cluster_name    = aws_eks_cluster.main.id
  node_group_name = "plain"
  node_role_arn   = "arn:aws:iam::123456789012:role/node"
  subnet_ids      = ["subnet-1"]

  scaling_config {
    desired_size = 1
    max_size     = 1
    min_size     = 1
  }
}

resource "aws_eks_node_group" "by_name" {
  cluster_name    = "prod"
  node_group_name = "by-name"
  node_role_arn   = "arn:aws:iam::123456789012:role/node"
  subnet_ids      = ["subnet-1"]

  launch_template {
    name    = aws_launch_template.workers.name
    version = 3
  }

  scaling_config {
    desired_size = 1
    max_size     = 1
    min_size     = 1
  }
}
