environment = "dev"
description = <<-EOT
  Platform database for ${environment}.
    Indented line with %{ if true }directive%{ endif }.
  EOT
banner = "literal $${not_interpolated} and %%{not_a_directive}"

application_databases = {
  keycloak = {
    database_name = "keycloak"
    username      = "keycloak_user"
    notes         = <<EOT
  heredoc inside an entry, ${"kept"} as is
EOT
  }
  backstage = {
    database_name = "backstage"
    username      = "backstage_user"
  }
}
