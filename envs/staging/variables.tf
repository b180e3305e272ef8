# Inputs of the environment's cluster root that concern RDS. The cluster build
# (make apply / make deploy) creates the instance in coupled mode when
# rds_config.enabled is true and the cluster is persistent.

variable "environment" {
  type = string
}

variable "aws_region" {
  type = string
}

variable "cluster_lifecycle" {
  description = "persistent or ephemeral; coupled RDS is refused on ephemeral clusters."
  type        = string
  default     = "ephemeral"
  validation {
    condition     = contains(["persistent", "ephemeral"], var.cluster_lifecycle)
    error_message = "cluster_lifecycle must be persistent or ephemeral."
  }
}

variable "build_id" {
  description = "Build identifier of ephemeral clusters; persistent clusters use \"persistent\"."
  type        = string
  default     = "persistent"
}

variable "rds_config" {
  description = "Coupled RDS: created with the cluster when enabled. application_databases must match envs/<env>-rds when enabled."
  type = object({
    enabled               = bool
    identifier            = optional(string, "goldenpath-platform-db")
    instance_class        = optional(string, "db.t3.micro")
    engine_version        = optional(string, "15.15")
    allocated_storage     = optional(number, 20)
    max_allocated_storage = optional(number, 100)
    multi_az              = optional(bool, false)
    deletion_protection   = optional(bool, true)
    skip_final_snapshot   = optional(bool, false)
    backup_retention_days = optional(number, 7)
    application_databases = optional(map(object({
      database_name = string
      username      = string
    })), {})
  })
  default = { enabled = false }
}
