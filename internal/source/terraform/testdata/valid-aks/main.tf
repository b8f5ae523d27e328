variable "wi" {
  type    = bool
  default = true
}

resource "azurerm_kubernetes_cluster" "main" {
  name                      = "aks-prod"
  location                  = "westeurope"
  resource_group_name       = "rg"
  dns_prefix                = "prod"
  oidc_issuer_enabled       = true
  workload_identity_enabled = var.wi

  default_node_pool {
    name       = "default"
    node_count = 1
    vm_size    = "Standard_D2_v2"
  }
}

resource "azurerm_kubernetes_cluster" "bare" {
  name                = "aks-bare"
  location            = "westeurope"
  resource_group_name = "rg"
  dns_prefix          = "bare"
}
