# An AKS cluster as Terraform, without Microsoft Entra Workload ID: neither
# the OIDC issuer nor workload identity is enabled (both default to false),
# so pods have no Azure identity of their own and take the node's managed
# identity from IMDS (IMDS-012).
resource "azurerm_kubernetes_cluster" "billing" {
  name                = "billing"
  location            = "westeurope"
  resource_group_name = "billing-rg"
  dns_prefix          = "billing"

  default_node_pool {
    name       = "system"
    node_count = 2
    vm_size    = "Standard_D4s_v5"
  }

  identity {
    type = "SystemAssigned"
  }
}
