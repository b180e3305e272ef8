environment       = "prod"
aws_region        = "eu-west-2"
cluster_lifecycle = "persistent"
build_id          = "persistent"

rds_config = {
  enabled = false # Standalone only (envs/prod-rds)
}
