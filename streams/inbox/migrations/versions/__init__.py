"""Inbox schema revisions, oldest first (``0001_...``)."""
