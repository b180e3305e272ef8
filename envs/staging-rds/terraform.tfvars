environment       = "staging"
aws_region        = "eu-west-2"
owner_team        = "platform-team"
identifier_prefix = "goldenpath-staging-platform"
vpc_name          = "goldenpath-staging-vpc"

instance_class          = "db.t3.small"
engine_version          = "15.15"
allocated_storage       = 20
max_allocated_storage   = 100
database_name           = "platform"
master_username         = "platform_admin"
multi_az                = true
backup_retention_period = 14
rotation_days           = 14

# Application Databases (Bounded Contexts)
application_databases = {}
