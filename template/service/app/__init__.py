"""Sample ASGI service: a counter in Redis, the time from PostgreSQL, liveness and readiness."""
