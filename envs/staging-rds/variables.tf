# Inputs of the standalone RDS root: one shared PostgreSQL instance per
# environment, plus one database, role and secret per application_databases key.

variable "environment" {
  description = "Environment name (dev, test, staging, prod)."
  type        = string
}

variable "aws_region" {
  description = "AWS region of the instance."
  type        = string
}

variable "identifier_prefix" {
  description = "Prefix of the instance identifier; the identifier is <prefix>-<environment>."
  type        = string
  default     = "goldenpath-platform-db"
}

variable "owner_team" {
  description = "Team tag applied to every resource."
  type        = string
  default     = "platform-team"
}

variable "cost_center" {
  description = "Cost centre tag."
  type        = string
  default     = "platform"
}

variable "vpc_name" {
  description = "Name tag of the VPC to place the instance in; null selects by project and environment tags only."
  type        = string
  default     = null
}

variable "engine_version" {
  description = "PostgreSQL engine version."
  type        = string
  default     = "15.15"
}

variable "engine_version_major" {
  description = "Major version, for the parameter group family."
  type        = string
  default     = "15"
}

variable "instance_class" {
  description = "Instance class of the shared instance."
  type        = string
  default     = "db.t3.micro"
}

variable "allocated_storage" {
  description = "Allocated storage in GB."
  type        = number
  default     = 20
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GB."
  type        = number
  default     = 100
}

variable "kms_key_id" {
  description = "KMS key for storage encryption; null uses the AWS managed key."
  type        = string
  default     = null
}

variable "database_name" {
  description = "Name of the platform (master) database."
  type        = string
  default     = "platform"
}

variable "master_username" {
  description = "Master user name."
  type        = string
  default     = "platformadmin"
}

variable "multi_az" {
  description = "Run a standby in a second availability zone."
  type        = bool
  default     = false
}

variable "backup_retention_period" {
  description = "Days of automated backups."
  type        = number
  default     = 7
}

variable "backup_window" {
  type    = string
  default = "03:00-04:00"
}

variable "maintenance_window" {
  type    = string
  default = "Mon:04:00-Mon:05:00"
}

variable "apply_immediately" {
  type    = bool
  default = true
}

variable "performance_insights_retention_period" {
  type    = number
  default = 7
}

variable "max_connections" {
  description = "Connection ceiling used by the connections alarm."
  type        = number
  default     = 100
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic for CloudWatch alarms; empty disables notifications."
  type        = string
  default     = ""
}

variable "rotation_days" {
  description = "Credential rotation period in days."
  type        = number
  default     = 30
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret stays recoverable."
  type        = number
  default     = 30
}

# One entry per application: the key names the secret
# (goldenpath/<environment>/<key>/postgres); database_name and username name the
# database and role rdsbot provisions. rdsbot edits this map through pull requests.
variable "application_databases" {
  description = "Application databases on the shared instance, keyed by application."
  type = map(object({
    database_name = string
    username      = string
  }))
  default = {}
}
