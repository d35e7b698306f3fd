"""The HTTP API under /api/v1: routes only translate between HTTP and the services."""
