"""Alembic revisions (see services.runtime.storage.migrations)."""
