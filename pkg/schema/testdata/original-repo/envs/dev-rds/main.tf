# The standalone root, reduced to what rdsbot reads: the instance and its
# guardrails.
terraform {
  backend "s3" {}
}

locals {
  identifier = "${var.identifier_prefix}-${var.environment}"
}

resource "aws_db_instance" "platform" {
  identifier          = local.identifier
  engine              = "postgres"
  engine_version      = var.engine_version
  instance_class      = var.instance_class
  db_name             = var.database_name
  username            = var.master_username
  multi_az            = var.multi_az
  deletion_protection = true
  skip_final_snapshot = false

  lifecycle {
    prevent_destroy = true
    ignore_changes  = [final_snapshot_identifier]
  }
}

resource "aws_secretsmanager_secret" "app" {
  for_each = var.application_databases
  name     = "goldenpath/${var.environment}/${each.key}/postgres"
}
