"""The seed's lookup data (provider lookup types, lookup values, provider rows) and its loader."""

from __future__ import annotations

from seeds.data import LOOKUP_TYPES, LOOKUPS, PROVIDERS
from seeds.loader import SeedCounts, SeedReport, load_seeds

__all__ = ["LOOKUPS", "LOOKUP_TYPES", "PROVIDERS", "SeedCounts", "SeedReport", "load_seeds"]
