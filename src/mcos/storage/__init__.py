"""Storage: SQLAlchemy Core tables, the engine set-up per backend, migrations and the writer."""
