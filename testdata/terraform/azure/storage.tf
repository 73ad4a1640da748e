resource "azurerm_storage_account" "legacy" {
  name                      = "examplelegacy"
  resource_group_name       = "example"
  location                  = "westeurope"
  account_tier              = "Standard"
  account_replication_type  = "LRS"
  min_tls_version           = "TLS1_0"
  enable_https_traffic_only = false
}

# No min_tls_version: the provider's default, TLS 1.0 before azurerm 3.0.
resource "azurerm_storage_account" "unstated" {
  name                     = "exampleunstated"
  resource_group_name      = "example"
  location                 = "westeurope"
  account_tier             = "Standard"
  account_replication_type = "LRS"
}
