environment       = "test"
aws_region        = "eu-west-2"
owner_team        = "platform-team"
identifier_prefix = "goldenpath-test-platform"
vpc_name          = "goldenpath-test-vpc"

instance_class          = "db.t3.micro"
engine_version          = "15.15"
allocated_storage       = 20
max_allocated_storage   = 50
database_name           = "platform"
master_username         = "platform_admin"
backup_retention_period = 7

# Application databases. rdsbot keeps this map and rds_config.application_databases
# in envs/test/terraform.tfvars identical (coupled mode is enabled in test).
application_databases = {
  keycloak = {
    database_name = "keycloak"
    username      = "keycloak_app"
  }
  backstage = {
    database_name = "backstage_plugin_catalog"
    username      = "backstage_app"
  }
}
