"""Sample ASGI service: visit counters in Redis and PostgreSQL, liveness and readiness."""
