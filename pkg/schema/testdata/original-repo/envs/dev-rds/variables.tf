variable "environment" {
  type = string
}

variable "aws_region" {
  type = string
}

variable "identifier_prefix" {
  type    = string
  default = "goldenpath-platform-db"
}

variable "owner_team" {
  type    = string
  default = "platform-team"
}

variable "cost_center" {
  type    = string
  default = "platform"
}

variable "vpc_name" {
  type    = string
  default = null
}

variable "engine_version" {
  type    = string
  default = "15.4"
}

variable "engine_version_major" {
  type    = string
  default = "15"
}

variable "instance_class" {
  type    = string
  default = "db.t3.micro"
}

variable "allocated_storage" {
  type    = number
  default = 20
}

variable "max_allocated_storage" {
  type    = number
  default = 100
}

variable "kms_key_id" {
  type    = string
  default = null
}

variable "database_name" {
  type    = string
  default = "platform"
}

variable "master_username" {
  type    = string
  default = "platformadmin"
}

variable "multi_az" {
  type    = bool
  default = false
}

variable "backup_retention_period" {
  type    = number
  default = 7
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
  type    = number
  default = 100
}

variable "alarm_sns_topic_arn" {
  type    = string
  default = ""
}

variable "rotation_days" {
  type    = number
  default = 30
}

# Application databases: the secret path uses the map key
# (goldenpath/<environment>/<key>/postgres).
variable "application_databases" {
  type = map(object({
    database_name = string
    username      = string
  }))
  default = {
    keycloak = {
      database_name = "keycloak"
      username      = "keycloak"
    }
    backstage = {
      database_name = "backstage"
      username      = "backstage"
    }
  }
}
