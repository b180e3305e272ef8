// Package schema loads the data that drives request validation: the enum
// lists of schemas/metadata/enums.yaml, a request schema such as
// schemas/requests/rds.schema.yaml (fields, patterns, ranges, defaults,
// conditional rules, size mapping, approval routing) and the service-class
// approvals of schemas/routing/service_class_approvals.yaml.
//
// Nothing here knows which environments, sizes or owners exist: every list
// comes from the files. The package is pure: it parses bytes it is given and
// checks the schema itself (an enum_from that names no enum, a default that
// breaks its own field's rule, a rule on an unknown field), reporting every
// problem at once.
package schema
