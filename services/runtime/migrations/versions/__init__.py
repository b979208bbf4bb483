"""Alembic revisions (see services.runtime.migrations)."""
