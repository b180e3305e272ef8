environment = "dev"

application_databases = {
  # Identity provider
  keycloak = {
    database_name = "keycloak"
    username      = "keycloak_user"
  }

  backstage = {
    database_name = "backstage"
    username      = "backstage_user"
  }
} # end of application_databases

# Sizing
instance_class    = "db.t3.micro"
allocated_storage = 20
tags = {
  Owner = "platform-team"
}
