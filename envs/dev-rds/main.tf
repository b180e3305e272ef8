# Standalone RDS root: the shared PostgreSQL instance of one environment and a
# Secrets Manager secret per application database. Roles, databases and grants
# inside the instance are created by rdsbot's provisioner after apply.
#
# Guardrails: deletion_protection stays true and prevent_destroy stays true;
# `rdsbot validate` and the PR check refuse a change that lowers either.

terraform {
  required_version = ">= 1.6.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
  # Configured at init: bucket goldenpath-idp-<env>-bucket,
  # key envs/<env>-rds/terraform.tfstate, dynamodb_table goldenpath-idp-<env>-db-key.
  backend "s3" {}
}

provider "aws" {
  region = var.aws_region
  default_tags {
    tags = {
      Environment = var.environment
      Project     = "goldenpath-idp"
      ManagedBy   = "terraform"
      Owner       = var.owner_team
      Component   = "platform-rds"
      CostCenter  = var.cost_center
      Application = "platform-database"
    }
  }
}

locals {
  identifier = "${var.identifier_prefix}-${var.environment}"

  # Application databases come from two places, one per request mode of
  # rdsbot.yaml: the application_databases map of terraform.tfvars (direct
  # mode) and one generated/<request id>.auto.tfvars.json per request
  # contract (contract mode; rds_databases shape). Terraform does not load
  # files under generated/ by itself, so they are read here. A database in
  # both is refused by `rdsbot validate`.
  generated_databases = merge([
    for f in fileset("${path.module}/generated", "*.auto.tfvars.json") : {
      for key, db in jsondecode(file("${path.module}/generated/${f}")).rds_databases :
      key => { database_name = db.database_name, username = db.username }
    }
  ]...)
  application_databases = merge(var.application_databases, local.generated_databases)
}

data "aws_vpc" "platform" {
  tags = merge(
    { Project = "goldenpath-idp", Environment = var.environment },
    var.vpc_name == null ? {} : { Name = var.vpc_name },
  )
}

data "aws_subnets" "private" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.platform.id]
  }
  tags = { Name = "*private*" }
}

resource "aws_db_subnet_group" "platform" {
  name       = "${local.identifier}-subnet-group"
  subnet_ids = data.aws_subnets.private.ids
}

resource "aws_security_group" "rds" {
  name   = "${local.identifier}-rds-sg"
  vpc_id = data.aws_vpc.platform.id

  ingress {
    description = "PostgreSQL from inside the VPC"
    from_port   = 5432
    to_port     = 5432
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.platform.cidr_block]
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_db_parameter_group" "platform" {
  name   = "${local.identifier}-params"
  family = "postgres${var.engine_version_major}"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  # DDL is logged; rdsbot sets passwords as SCRAM verifiers so no cleartext
  # password reaches this log.
  parameter {
    name  = "log_statement"
    value = "ddl"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
}

resource "random_password" "master" {
  length  = 32
  special = false
}

resource "aws_db_instance" "platform" {
  identifier                   = local.identifier
  engine                       = "postgres"
  engine_version               = var.engine_version
  instance_class               = var.instance_class
  allocated_storage            = var.allocated_storage
  max_allocated_storage        = var.max_allocated_storage
  storage_type                 = "gp3"
  storage_encrypted            = true
  kms_key_id                   = var.kms_key_id
  db_name                      = var.database_name
  username                     = var.master_username
  password                     = random_password.master.result
  port                         = 5432
  multi_az                     = var.multi_az
  publicly_accessible          = false
  db_subnet_group_name         = aws_db_subnet_group.platform.name
  vpc_security_group_ids       = [aws_security_group.rds.id]
  parameter_group_name         = aws_db_parameter_group.platform.name
  backup_retention_period      = var.backup_retention_period
  backup_window                = var.backup_window
  maintenance_window           = var.maintenance_window
  apply_immediately            = var.apply_immediately
  deletion_protection          = true
  skip_final_snapshot          = false
  final_snapshot_identifier    = "${local.identifier}-final-snapshot"
  delete_automated_backups     = false
  copy_tags_to_snapshot        = true
  performance_insights_enabled = true

  performance_insights_retention_period = var.performance_insights_retention_period
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]

  lifecycle {
    prevent_destroy = true
    ignore_changes  = [final_snapshot_identifier]
  }
}

resource "aws_secretsmanager_secret" "master" {
  name                    = "goldenpath/${var.environment}/rds/master"
  recovery_window_in_days = var.secret_recovery_window_days
}

resource "aws_secretsmanager_secret_version" "master" {
  secret_id = aws_secretsmanager_secret.master.id
  secret_string = jsonencode({
    username             = var.master_username
    password             = random_password.master.result
    host                 = aws_db_instance.platform.address
    port                 = tostring(aws_db_instance.platform.port)
    dbname               = var.database_name
    engine               = "postgres"
    dbInstanceIdentifier = aws_db_instance.platform.identifier
  })
}

resource "random_password" "app" {
  for_each = local.application_databases
  length   = 32
  special  = false
}

resource "aws_secretsmanager_secret" "app" {
  for_each                = local.application_databases
  name                    = "goldenpath/${var.environment}/${each.key}/postgres"
  recovery_window_in_days = var.secret_recovery_window_days
  tags = {
    Name        = "goldenpath/${var.environment}/${each.key}/postgres"
    Application = each.key
  }
}

resource "aws_secretsmanager_secret_version" "app" {
  for_each  = local.application_databases
  secret_id = aws_secretsmanager_secret.app[each.key].id
  secret_string = jsonencode({
    username = each.value.username
    password = random_password.app[each.key].result
    host     = aws_db_instance.platform.address
    port     = tostring(aws_db_instance.platform.port)
    dbname   = each.value.database_name
    engine   = "postgres"
  })
}

output "db_instance_identifier" {
  value = aws_db_instance.platform.identifier
}

output "endpoint" {
  value = aws_db_instance.platform.endpoint
}

output "master_secret_name" {
  value = aws_secretsmanager_secret.master.name
}

output "app_secret_names" {
  value = { for k, s in aws_secretsmanager_secret.app : k => s.name }
}
