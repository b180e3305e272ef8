environment = "dev"
# Application Databases
application_databases = {
  keycloak = {
    database_name = "keycloak"
    username      = "keycloak_user"
  },
  backstage = {
    database_name = "backstage"
    username      = "backstage_user"
  }
}
