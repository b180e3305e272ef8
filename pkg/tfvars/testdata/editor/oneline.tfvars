environment           = "dev"
application_databases = { keycloak = { database_name = "keycloak", username = "keycloak_user" }, backstage = { database_name = "backstage", username = "backstage_user" } }
aws_region            = "eu-west-2"
