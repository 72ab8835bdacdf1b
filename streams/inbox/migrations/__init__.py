"""Alembic migrations of the inbox database (shipped in the package; see ``streams.inbox``)."""
