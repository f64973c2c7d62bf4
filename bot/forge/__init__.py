"""A local GitHub-compatible forge: REST API, signed webhooks and a read-only HTML view, offline."""
