environment       = "dev"
aws_region        = "eu-west-2"
owner_team        = "platform-team"
identifier_prefix = "goldenpath-dev-platform"
vpc_name = "goldenpath-dev-vpc"
instance_class        = "db.t3.micro"
engine_version        = "15.15"
allocated_storage     = 20
max_allocated_storage = 50 # Autoscaling up to 50GB
database_name   = "platform"
master_username = "platform_admin"
backup_retention_period = 7
# Application Databases (Bounded Contexts)
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
