environment       = "dev"
owner_team        = "platform-team"
multi_az          = "yes"
allocated_storage = "twenty"
instance_class    = var.instance_class
rds_databases     = {}

application_databases = {
  keycloak = {
    database_name = "keycloak"
    username      = "keycloak_user"
  }
  orders = {
    database_name = "orders"
  }
  payments = {
    database_name = "payments"
    username      = "payments_app"
    access_level  = "owner"
  }
  ledger = {
    database_name = ["ledger"]
    username      = "ledger_app"
    username      = "ledger_app2"
  }
  keycloak = {
    database_name = "keycloak2"
    username      = "keycloak_user"
  }
  reports = "reports"
}

locals {
  x = 1
}
