"""Sample HTTP service: a hello endpoint and a health check of PostgreSQL and Redis."""
