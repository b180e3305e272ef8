environment       = "test"
aws_region        = "eu-west-2"
cluster_lifecycle = "persistent"
build_id          = "persistent"

rds_config = {
  enabled               = false # Off: the contract mode writes no tfvars, so the coupled root would miss contract requests
  identifier            = "goldenpath-platform-db"
  instance_class        = "db.t3.micro"
  engine_version        = "15.15"
  allocated_storage     = 20
  max_allocated_storage = 50
  multi_az              = false
  deletion_protection   = true
  skip_final_snapshot   = false
  backup_retention_days = 7

  # Databases to create and secret names to generate
  application_databases = {
    "keycloak" = {
      database_name = "keycloak"
      username      = "keycloak_app"
    }
    "backstage" = {
      database_name = "backstage_plugin_catalog" # Backstage uses many DBs, starting with catalog
      username      = "backstage_app"
    }
  }
}
