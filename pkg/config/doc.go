// Package config is rdsbot.yaml: where a managed repository keeps its schemas,
// tfvars and catalog, which branch requests target, how secrets and branches
// are named, which labels the bot uses, which GitHub team stands for each
// reviewer group, the request mode (direct tfvars edits or request contracts
// with generated files, and where those files go) and which root attributes
// name the instance's own master user and admin database. Every field has a
// default that fits this repository's layout, so an empty file (or none) is
// a working configuration.
package config
