# A map of one-line entries: their "=" signs form one alignment chain.
application_databases = {
  kc        = { database_name = "keycloak", username = "keycloak_user" }
  backstage = { database_name = "backstage", username = "backstage_user" } # the portal
  grafana   = { database_name = "grafana", username = "grafana" }
}
