environment       = "staging"
cluster_lifecycle = "persistent"

rds_config = {
  enabled        = true
  instance_class = "db.t3.small" # sized for staging
}
