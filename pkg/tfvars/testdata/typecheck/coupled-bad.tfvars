environment = "dev"

rds_config = {
  identifier     = "goldenpath-platform-db"
  multi_az       = 1
  engine         = "postgres"
  application_databases = {
    "keycloak" = {
      database_name = "keycloak"
      username      = "keycloak_app"
    }
    "orders" = {
      username = "orders_app"
    }
  }
}
