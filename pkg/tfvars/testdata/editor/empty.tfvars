environment = "dev"

application_databases = {}
