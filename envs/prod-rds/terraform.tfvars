environment       = "prod"
aws_region        = "eu-west-2"
owner_team        = "platform-team"
identifier_prefix = "goldenpath-prod-platform"
vpc_name          = "goldenpath-prod-vpc"

instance_class              = "db.t3.medium"
engine_version              = "15.15"
allocated_storage           = 50
max_allocated_storage       = 500
database_name               = "platform"
master_username             = "platform_admin"
multi_az                    = true
backup_retention_period     = 35
rotation_days               = 14
secret_recovery_window_days = 30

# Application Databases (Bounded Contexts)
application_databases = {
  keycloak = { database_name = "keycloak", username = "keycloak_user" }
}
