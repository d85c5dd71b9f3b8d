"""Django's PostgreSQL backend, its health check asking the socket first (``base``)."""
