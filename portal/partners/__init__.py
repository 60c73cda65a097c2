"""Partners: organisations, contacts, and the reference data they hang on
(countries, UN M49 regions)."""
