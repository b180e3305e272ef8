// Package config is rdsbot.yaml: where a managed repository keeps its schemas,
// tfvars and catalog, which branch requests target, how secrets and branches
// are named, which labels the bot uses and which GitHub team stands for each
// reviewer group. Every field has a default that fits this repository's
// layout, so an empty file (or none) is a working configuration.
package config
