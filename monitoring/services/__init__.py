"""Monitoring writes, one module per use case: `store` (a provider's records kept, once),
`apply` (the sweep: notices and grades applied, proceedings and grades of the registry),
`alerts` (alerts raised to the exposed parties), `imports` (files given to the built-in
provider)."""
