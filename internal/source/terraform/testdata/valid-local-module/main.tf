module "nodes" {
  source    = "./modules/nodes"
  hop_limit = 1
  cluster   = "prod"
}

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 20.0"
}

resource "aws_eks_node_group" "workers" {
  cluster_name    = module.nodes.cluster
  node_group_name = "workers"
  node_role_arn   = "arn:aws:iam::123456789012:role/node"
  subnet_ids      = ["subnet-1"]

  launch_template {
    id      = module.nodes.launch_template_id
    version = "$Latest"
  }

  scaling_config {
    desired_size = 1
    max_size     = 1
    min_size     = 1
  }
}
