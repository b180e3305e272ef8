// Package tfvars edits and checks Terraform tfvars files.
package tfvars
