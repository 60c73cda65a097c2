"""Search backends. ``database`` (SQLite FTS5 / PostgreSQL) ships with the portal; the
Elasticsearch and Meilisearch backends are imported only when configured, so their client
libraries are never needed by a small deployment."""
